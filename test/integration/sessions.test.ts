// Proves POST /v1/sessions end to end inside workerd: the JWKS, JWE and
// claim refusals (invalid_jwe), replay refusal until exp (and not after), vm_not_found,
// key_mismatch and the lockout with Retry-After (right key included), the
// session record, termination, listing and the audit trail. After every
// refusal no session exists. The relay itself is proven in relay.test.ts.
import { runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import type { JWK } from "jose";
import { describe, expect, it } from "vitest";
import {
	createHost,
	enrolVm,
	hostWithVm,
	openSession,
	postSession,
	requestSession,
	servedKeys,
	unique,
	userTables,
} from "../support/console";
import { admin, call, newClientAddress, problemOf } from "../support/http";
import { claimsFor, encryptRequest } from "../support/jwe";
import { broadcastDomainStub, serviceProcessorStub } from "../support/objects";
import { connect, type TestSocket, withTimeout } from "../support/sockets";

const sessionsOf = async (hostId: string) =>
	(
		(await (await admin("GET", `/v1/hosts/${hostId}/sessions`)).json()) as {
			sessions: Array<Record<string, unknown>>;
		}
	).sessions;

async function expectProblem(response: Response, status: number, code: string) {
	expect(response.status).toBe(status);
	expect(response.headers.get("Content-Type")).toBe("application/problem+json");
	expect((await problemOf(response)).code).toBe(code);
}

async function firstKey(): Promise<JWK> {
	const [jwk] = await servedKeys();
	if (!jwk) throw new Error("no key");
	return jwk;
}

describe("GET /.well-known/jwks.json", () => {
	it("serves every configured key as a public P-256 JWK for ECDH-ES+A256KW", async () => {
		const response = await call("/.well-known/jwks.json");
		expect(response.status).toBe(200);
		const { keys } = (await response.json()) as { keys: JWK[] };
		expect(keys).toHaveLength(2);
		for (const key of keys) {
			expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
			expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", use: "enc" });
		}
	});
});

describe("POST /v1/sessions", () => {
	it("builds channel URLs on the Worker's public origin, never on a forged Host", async () => {
		const host = await hostWithVm();
		const [jwk] = await servedKeys();
		if (!jwk) throw new Error("no served key");
		const jwe = await encryptRequest(
			jwk,
			claimsFor({ domain: host.domain, vm: host.vmId, key: host.key }),
		);
		// The audit's attack: the request names the requester's own server as its host.
		const response = await exports.default.fetch(
			new Request("http://127.0.0.1:4444/v1/sessions", {
				method: "POST",
				headers: { "Content-Type": "application/jose", Host: "127.0.0.1:4444" },
				body: jwe,
			}),
		);
		expect(response.status).toBe(201);
		const { userChannel, sessionId } = (await response.json()) as {
			sessionId: string;
			userChannel: { url: string };
		};
		expect(new URL(userChannel.url).origin).toBe("wss://edgevisor.test");
		const viewer = (await (await admin("POST", `/v1/sessions/${sessionId}/viewers`)).json()) as {
			url: string;
		};
		expect(new URL(viewer.url).origin).toBe("wss://edgevisor.test");
	});

	it("opens a vm_pending session with a single-use user channel on the SP that holds the VM", async () => {
		const host = await hostWithVm();
		const response = await requestSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect(response.status).toBe(201);
		const body = (await response.json()) as Record<string, unknown>;
		expect(body).toEqual({
			sessionId: expect.stringMatching(new RegExp(`^${host.hostId}~[0-9a-f-]{36}$`)),
			hostId: host.hostId,
			vmId: host.vmId,
			state: "vm_pending",
			userChannel: {
				url: expect.stringMatching(/^wss:\/\/edgevisor\.test\/v1\/sessions\/.+\/user\?token=/),
				token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
				expiresAt: expect.any(String),
			},
		});
		const channel = body.userChannel as { url: string; token: string; expiresAt: string };
		expect(channel.url).toContain(channel.token);
		const ttlMs = Date.parse(channel.expiresAt) - Date.now();
		expect(ttlMs).toBeGreaterThan(0);
		expect(ttlMs).toBeLessThanOrEqual(60_000);
	});

	it("accepts a request encrypted to the second key of the set (rotation by kid)", async () => {
		const host = await hostWithVm();
		const [, second] = await servedKeys();
		if (!second) throw new Error("expected two keys");
		const jwe = await encryptRequest(
			second,
			claimsFor({ domain: host.domain, vm: host.vmId, key: host.key }),
		);
		expect((await postSession(jwe)).status).toBe(201);
	});

	it("records userSecuredAt at the id match, before the key check", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const record = (await (
			await admin("GET", `/v1/sessions/${opened.sessionId}`)
		).json()) as Record<string, unknown>;
		expect(record).toMatchObject({
			sessionId: opened.sessionId,
			hostId: host.hostId,
			vmId: host.vmId,
			state: "vm_pending",
			keyVersion: 1,
			vmSecuredAt: null,
			closedAt: null,
			closeReason: null,
			bytesFromUser: 0,
			bytesFromVm: 0,
		});
		expect(Date.parse(record.userSecuredAt as string)).toBeLessThanOrEqual(
			Date.parse(record.createdAt as string),
		);
	});

	it("refuses an unknown VM id with vm_not_found and opens nothing", async () => {
		const host = await hostWithVm();
		const response = await requestSession({ domain: host.domain, vm: unique("vm"), key: host.key });
		await expectProblem(response, 404, "vm_not_found");
		expect(await sessionsOf(host.hostId)).toEqual([]);
	});

	it("refuses a VM held in another domain with vm_not_found", async () => {
		const host = await hostWithVm();
		const other = await createHost();
		const response = await requestSession({ domain: other.domain, vm: host.vmId, key: host.key });
		await expectProblem(response, 404, "vm_not_found");
		expect(await sessionsOf(host.hostId)).toEqual([]);
	});

	it("refuses an unknown domain with vm_not_found and creates no storage for it", async () => {
		const host = await hostWithVm();
		const domain = unique("nodomain");
		const response = await requestSession({ domain, vm: host.vmId, key: host.key });
		await expectProblem(response, 404, "vm_not_found");
		expect(await userTables(broadcastDomainStub(domain))).toEqual([]);
	});

	it("refuses a wrong key with key_mismatch and opens nothing", async () => {
		const host = await hostWithVm();
		const response = await requestSession({ domain: host.domain, vm: host.vmId, key: "wrong-key" });
		await expectProblem(response, 403, "key_mismatch");
		expect(await sessionsOf(host.hostId)).toEqual([]);
	});

	it("refuses a replayed jti with replayed_request and opens no second session", async () => {
		const host = await hostWithVm();
		const jwe = await encryptRequest(
			await firstKey(),
			claimsFor({ domain: host.domain, vm: host.vmId, key: host.key }),
		);
		expect((await postSession(jwe)).status).toBe(201);
		await expectProblem(await postSession(jwe), 409, "replayed_request");
		expect(await sessionsOf(host.hostId)).toHaveLength(1);
	});

	it("refuses a jti reused in a fresh JWE within its exp", async () => {
		const host = await hostWithVm();
		const target = { domain: host.domain, vm: host.vmId, key: host.key };
		const jti = crypto.randomUUID();
		expect((await requestSession(target, { jti })).status).toBe(201);
		await expectProblem(await requestSession(target, { jti }), 409, "replayed_request");
	});

	it("accepts a jti again once the exp it was first seen with has passed", async () => {
		const host = await hostWithVm();
		const target = { domain: host.domain, vm: host.vmId, key: host.key };
		const jti = crypto.randomUUID();
		expect((await requestSession(target, { jti })).status).toBe(201);
		// Age the remembered exp into the past (as if two minutes went by) in
		// both guards: the domain's and the holder's.
		const domain = broadcastDomainStub(host.domain);
		const holder = serviceProcessorStub(host.hostId);
		for (const guard of [domain, holder]) {
			await runInDurableObject(guard, (_instance, state) => {
				state.storage.sql.exec(
					"UPDATE seen_jtis SET exp_seconds = exp_seconds - 3600 WHERE jti = ?",
					jti,
				);
			});
		}
		expect((await requestSession(target, { jti })).status).toBe(201);
		await expectProblem(await requestSession(target, { jti }), 409, "replayed_request");
		expect(await sessionsOf(host.hostId)).toHaveLength(2);
	});

	it("refuses a body over 64 KiB with payload_too_large", async () => {
		await expectProblem(await postSession("x".repeat(65 * 1024)), 413, "payload_too_large");
	});

	it("refuses a wrong Content-Type with invalid_request", async () => {
		const host = await hostWithVm();
		const jwe = await encryptRequest(
			await firstKey(),
			claimsFor({ domain: host.domain, vm: host.vmId, key: host.key }),
		);
		await expectProblem(await postSession(jwe, "application/json"), 400, "invalid_request");
		expect(await sessionsOf(host.hostId)).toEqual([]);
	});

	describe("refuses with invalid_jwe and opens nothing", () => {
		const cases: Array<
			[string, (target: { domain: string; vm: string; key: string }) => Promise<string>]
		> = [
			["a body that is not a JWE", async () => "not.a.jwe"],
			["a JWS instead of a JWE", async () => "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln"],
			[
				"another key-management alg",
				async (target) =>
					encryptRequest(await firstKey(), claimsFor(target), { alg: "ECDH-ES+A128KW" }),
			],
			[
				"another content encryption",
				async (target) => encryptRequest(await firstKey(), claimsFor(target), { enc: "A128GCM" }),
			],
			[
				"direct ECDH-ES",
				async (target) => encryptRequest(await firstKey(), claimsFor(target), { alg: "ECDH-ES" }),
			],
			[
				"an unknown kid",
				async (target) =>
					encryptRequest(await firstKey(), claimsFor(target), { kid: "enc-unknown" }),
			],
			[
				"no kid",
				async (target) => encryptRequest(await firstKey(), claimsFor(target), { kid: null }),
			],
			[
				"a key we do not hold, under our kid",
				async (target) => {
					const { generateKeyPair, exportJWK } = await import("jose");
					const { publicKey } = await generateKeyPair("ECDH-ES+A256KW", {
						crv: "P-256",
						extractable: true,
					});
					const foreign = { ...(await exportJWK(publicKey)), kid: (await firstKey()).kid };
					return encryptRequest(foreign, claimsFor(target));
				},
			],
			[
				"a plaintext that is not JSON",
				async () => encryptRequest(await firstKey(), new TextEncoder().encode("hello")),
			],
			[
				"a missing claim",
				async (target) => {
					const { key: _key, ...claims } = claimsFor(target);
					return encryptRequest(await firstKey(), claims);
				},
			],
			[
				"an expired request",
				async (target) => {
					const now = Math.floor(Date.now() / 1000);
					return encryptRequest(
						await firstKey(),
						claimsFor(target, { iat: now - 100, exp: now - 1 }),
					);
				},
			],
			[
				"a lifetime over 300 s",
				async (target) => {
					const now = Math.floor(Date.now() / 1000);
					return encryptRequest(await firstKey(), claimsFor(target, { iat: now, exp: now + 301 }));
				},
			],
			[
				"a non-numeric exp",
				async (target) => encryptRequest(await firstKey(), claimsFor(target, { exp: "later" })),
			],
			[
				"an invalid domain",
				async (target) =>
					encryptRequest(await firstKey(), claimsFor(target, { domain: "bad domain" })),
			],
		];
		for (const [name, build] of cases) {
			it(name, async () => {
				const host = await hostWithVm();
				const jwe = await build({ domain: host.domain, vm: host.vmId, key: host.key });
				await expectProblem(await postSession(jwe), 400, "invalid_jwe");
				expect(await sessionsOf(host.hostId)).toEqual([]);
			});
		}
	});
});

describe("key lockout", () => {
	/** Six wrong keys for the host's VM from `client`: the sixth locks it out. */
	async function lockOut(host: { domain: string; vmId: string }, client: string) {
		const wrong = { domain: host.domain, vm: host.vmId, key: "wrong" };
		for (let attempt = 0; attempt < 6; attempt++) await requestSession(wrong, {}, client);
	}

	const mismatchRows = (hostId: string) =>
		runInDurableObject(
			serviceProcessorStub(hostId),
			(_instance, state) => state.storage.sql.exec("SELECT 1 FROM key_mismatches").toArray().length,
		);

	it("answers key_mismatch five times, then too_many_attempts with Retry-After", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		const wrong = { domain: host.domain, vm: host.vmId, key: "wrong" };
		for (let attempt = 0; attempt < 5; attempt++) {
			await expectProblem(await requestSession(wrong, {}, client), 403, "key_mismatch");
		}
		const locked = await requestSession(wrong, {}, client);
		await expectProblem(locked, 429, "too_many_attempts");
		const retryAfter = Number(locked.headers.get("Retry-After"));
		expect(retryAfter).toBeGreaterThan(0);
		expect(retryAfter).toBeLessThanOrEqual(600);
	});

	it("refuses the right key too from the locked-out address, and opens nothing", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		await lockOut(host, client);
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		const response = await requestSession(right, {}, client);
		await expectProblem(response, 429, "too_many_attempts");
		expect(response.headers.get("Retry-After")).toMatch(/^\d+$/);
		expect(await sessionsOf(host.hostId)).toEqual([]);
	});

	it("never locks out another address: the attack from one address leaves the owner in", async () => {
		const host = await hostWithVm();
		const attacker = newClientAddress();
		await lockOut(host, attacker);
		const owner = newClientAddress();
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		expect((await requestSession(right, {}, owner)).status).toBe(201);
		// The attacker stays locked, the right key included.
		await expectProblem(await requestSession(right, {}, attacker), 429, "too_many_attempts");
		// Concurrent attackers from many addresses: none of them locks the owner out.
		const wrong = { ...right, key: "wrong" };
		await Promise.all(
			Array.from({ length: 12 }, () => requestSession(wrong, {}, newClientAddress())),
		);
		expect((await requestSession(right, {}, owner)).status).toBe(201);
	});

	it("counts mismatches and holds the lockout on requests sent straight to the holder", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		// One success teaches the edge the holder: the requests below skip the domain.
		expect((await requestSession(right, {}, client)).status).toBe(201);
		const wrong = { ...right, key: "wrong" };
		for (let attempt = 0; attempt < 5; attempt++) {
			await expectProblem(await requestSession(wrong, {}, client), 403, "key_mismatch");
		}
		await expectProblem(await requestSession(wrong, {}, client), 429, "too_many_attempts");
		const jti = crypto.randomUUID();
		await expectProblem(await requestSession(right, { jti }, client), 429, "too_many_attempts");
		const domain = broadcastDomainStub(host.domain);
		const domainSaw = await runInDurableObject(
			domain,
			(_instance, state) =>
				state.storage.sql.exec("SELECT 1 FROM seen_jtis WHERE jti = ?", jti).toArray().length,
		);
		expect(domainSaw).toBe(0);
		expect(await sessionsOf(host.hostId)).toHaveLength(1);
	});

	it("locks one VM only; another VM on the same SP still opens", async () => {
		const host = await hostWithVm();
		const other = await enrolVm(host.hostId);
		const client = newClientAddress();
		await lockOut(host, client);
		const response = await requestSession(
			{ domain: host.domain, vm: other.vmId, key: other.key },
			{},
			client,
		);
		expect(response.status).toBe(201);
	});

	it("lets the right key in once the mismatches have aged out of the 10-minute window", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		await lockOut(host, client);
		// Age the recorded mismatches instead of waiting ten minutes.
		const sp = serviceProcessorStub(host.hostId);
		await runInDurableObject(sp, (_instance, state) => {
			state.storage.sql.exec("UPDATE key_mismatches SET at_ms = at_ms - 600000");
		});
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		expect((await requestSession(right, {}, client)).status).toBe(201);
	});

	it("ends with a key rotation: the locked-out address opens with the new key", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		await lockOut(host, client);
		const rotated = await admin("POST", `/v1/hosts/${host.hostId}/vms/${host.vmId}/rotate-key`);
		const { key } = (await rotated.json()) as { key: string };
		expect(await mismatchRows(host.hostId)).toBe(0);
		const response = await requestSession({ domain: host.domain, vm: host.vmId, key }, {}, client);
		expect(response.status).toBe(201);
	});

	it("ends when an admin clears it (DELETE …/lockout, 204), and the audit says so", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		await lockOut(host, client);
		const path = `/v1/hosts/${host.hostId}/vms/${host.vmId}/lockout`;
		expect((await admin("DELETE", path)).status).toBe(204);
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		expect((await requestSession(right, {}, client)).status).toBe(201);
		const audit = (await (await admin("GET", `/v1/hosts/${host.hostId}/audit`)).json()) as {
			events: Array<{ type: string; detail: Record<string, unknown> | null }>;
		};
		expect(audit.events.find((event) => event.type === "vm.lockouts_cleared")?.detail).toEqual({
			addresses: 1,
		});
		// Clearing again is harmless.
		expect((await admin("DELETE", path)).status).toBe(204);
	});

	it("refuses clearing a lockout without the admin token, or for an unknown VM or host", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		await lockOut(host, client);
		const path = `/v1/hosts/${host.hostId}/vms/${host.vmId}/lockout`;
		await expectProblem(await call(path, { method: "DELETE" }), 401, "unauthorized");
		await expectProblem(
			await admin("DELETE", `/v1/hosts/${host.hostId}/vms/no-such-vm/lockout`),
			404,
			"vm_not_found",
		);
		await expectProblem(
			await admin("DELETE", `/v1/hosts/no-such-host/vms/${host.vmId}/lockout`),
			404,
			"host_not_found",
		);
		// Nothing was cleared.
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		await expectProblem(await requestSession(right, {}, client), 429, "too_many_attempts");
	});
});

describe("session records", () => {
	it("answers an unknown session with not_found", async () => {
		const host = await createHost();
		const response = await admin("GET", `/v1/sessions/${host.hostId}~${crypto.randomUUID()}`);
		await expectProblem(response, 404, "not_found");
	});

	it("refuses a malformed session id with invalid_request", async () => {
		await expectProblem(await admin("GET", "/v1/sessions/not-a-session"), 400, "invalid_request");
	});

	it("requires the admin token to read a session", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		await expectProblem(await call(`/v1/sessions/${opened.sessionId}`), 401, "unauthorized");
	});

	it("terminates a session with 204 and closeReason terminated", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect((await admin("DELETE", `/v1/sessions/${opened.sessionId}`)).status).toBe(204);
		const record = (await (
			await admin("GET", `/v1/sessions/${opened.sessionId}`)
		).json()) as Record<string, unknown>;
		expect(record).toMatchObject({
			state: "closed",
			closeReason: "terminated",
			closedAt: expect.any(String),
		});
	});

	it("answers DELETE of an unknown session with not_found", async () => {
		const host = await createHost();
		await expectProblem(
			await admin("DELETE", `/v1/sessions/${host.hostId}~${crypto.randomUUID()}`),
			404,
			"not_found",
		);
	});

	it("refuses DELETE without the admin token and leaves the session open", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		await expectProblem(
			await call(`/v1/sessions/${opened.sessionId}`, { method: "DELETE" }),
			401,
			"unauthorized",
		);
		const record = (await (
			await admin("GET", `/v1/sessions/${opened.sessionId}`)
		).json()) as Record<string, unknown>;
		expect(record.state).toBe("vm_pending");
	});

	it("lists a host's sessions newest first", async () => {
		const host = await hostWithVm();
		const target = { domain: host.domain, vm: host.vmId, key: host.key };
		const first = await openSession(target);
		const second = await openSession(target);
		const sessions = await sessionsOf(host.hostId);
		expect(sessions.map((session) => session.sessionId)).toEqual([
			second.sessionId,
			first.sessionId,
		]);
	});

	it("answers the session list of an unknown host with host_not_found", async () => {
		await expectProblem(
			await admin("GET", `/v1/hosts/${unique("host")}/sessions`),
			404,
			"host_not_found",
		);
	});
});

describe("closing sessions with the VM", () => {
	async function attachedUser(): Promise<{
		host: Awaited<ReturnType<typeof hostWithVm>>;
		sessionId: string;
		user: TestSocket;
	}> {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		return { host, sessionId: opened.sessionId, user: await connect(opened.userChannel.url) };
	}

	it("closes the sessions of a VM whose key is rotated, and the old key stops at once", async () => {
		const { host, sessionId, user } = await attachedUser();
		const rotated = await admin("POST", `/v1/hosts/${host.hostId}/vms/${host.vmId}/rotate-key`);
		const { key: newKey } = (await rotated.json()) as { key: string };
		expect(await user.waitClosed()).toMatchObject({ reason: "key_rotated" });
		const record = (await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as Record<
			string,
			unknown
		>;
		expect(record).toMatchObject({ state: "closed", closeReason: "key_rotated" });
		const retry = await requestSession({ domain: host.domain, vm: host.vmId, key: host.key });
		await expectProblem(retry, 403, "key_mismatch");
		const withNewKey = await requestSession({ domain: host.domain, vm: host.vmId, key: newKey });
		expect(withNewKey.status).toBe(201);
	});

	it("closes the sessions of a removed VM", async () => {
		const { host, sessionId, user } = await attachedUser();
		await admin("DELETE", `/v1/hosts/${host.hostId}/vms/${host.vmId}`);
		expect(await user.waitClosed()).toMatchObject({ reason: "vm_removed" });
		const record = (await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as Record<
			string,
			unknown
		>;
		expect(record).toMatchObject({ state: "closed", closeReason: "vm_removed" });
	});

	it("closes the user socket on DELETE /v1/sessions/{id}", async () => {
		const { sessionId, user } = await attachedUser();
		await admin("DELETE", `/v1/sessions/${sessionId}`);
		expect(await withTimeout(user.closed, 5_000, "close")).toMatchObject({ reason: "terminated" });
	});
});

describe("GET /v1/hosts/{hostId}/audit", () => {
	it("records the request, the id match, the key check and the channel, newest first, without secrets", async () => {
		const host = await hostWithVm();
		await requestSession({ domain: host.domain, vm: host.vmId, key: "wrong" });
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		await connect(opened.userChannel.url);
		const response = await admin("GET", `/v1/hosts/${host.hostId}/audit`);
		expect(response.status).toBe(200);
		const { events } = (await response.json()) as { events: Array<{ type: string; id: number }> };
		expect(events.map((event) => event.type).reverse()).toEqual([
			"vm.enrolled",
			"session.requested",
			"session.id_matched",
			"session.key_mismatched",
			"session.requested",
			"session.id_matched",
			"session.key_matched",
			"channel.user_attached",
		]);
		const serialized = JSON.stringify(events);
		expect(serialized).not.toContain(host.key);
		expect(serialized).not.toContain(opened.userChannel.token);
	});

	it("answers an unknown host with host_not_found", async () => {
		await expectProblem(
			await admin("GET", `/v1/hosts/${unique("host")}/audit`),
			404,
			"host_not_found",
		);
	});

	it("requires the admin token", async () => {
		const host = await createHost();
		await expectProblem(await call(`/v1/hosts/${host.hostId}/audit`), 401, "unauthorized");
	});
});
