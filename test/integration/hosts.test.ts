// Proves the host routes: create (secrets once), update, read, list by
// domain, domain membership of the host's service processor, `agentConnected`
// following the agent channel (before, while, after, replaced), and every
// refusal (auth, validation, unknown host) leaving nothing changed.
// Does not cover the SP table or sessions (vms/sessions tests), nor the agent
// protocol itself (agent tests).
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connectAgent, createHost, hostBody, unique } from "../support/console";
import { admin, call, problemOf } from "../support/http";
import { broadcastDomain, serviceProcessor, serviceProcessorStub } from "../support/objects";

const domainMembers = (domain: string) => broadcastDomain(domain).members();

describe("PUT /v1/hosts/{hostId}", () => {
	it("creates a host with an agent token and a Standard Webhooks secret shown once", async () => {
		const hostId = unique("host");
		const domain = unique("dom");
		const response = await admin("PUT", `/v1/hosts/${hostId}`, hostBody(domain));
		expect(response.status).toBe(201);
		const body = (await response.json()) as Record<string, string>;
		expect(body).toEqual({
			hostId,
			domain,
			agentToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
			webhookSecret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
		});
		expect(atob(body.webhookSecret?.slice("whsec_".length) ?? "")).toHaveLength(32);
	});

	it("updates an existing host with 200 and no secrets", async () => {
		const host = await createHost();
		const response = await admin(
			"PUT",
			`/v1/hosts/${host.hostId}`,
			hostBody(host.domain, { site: "ams-2", memoryMiB: 1024 }),
		);
		expect(response.status).toBe(200);
		const body = (await response.json()) as Record<string, unknown>;
		expect(body).toMatchObject({ hostId: host.hostId, site: "ams-2", memoryMiB: 1024 });
		expect(body).not.toHaveProperty("agentToken");
		expect(body).not.toHaveProperty("webhookSecret");
	});

	it("makes the host's service processor a member of its domain", async () => {
		const host = await createHost();
		expect(await domainMembers(host.domain)).toEqual([host.hostId]);
	});

	it("moves the service processor when the host changes domain", async () => {
		const host = await createHost();
		const newDomain = unique("dom");
		await admin("PUT", `/v1/hosts/${host.hostId}`, hostBody(newDomain));
		expect(await domainMembers(host.domain)).toEqual([]);
		expect(await domainMembers(newDomain)).toEqual([host.hostId]);
	});

	it("retries a queued directory task from the alarm (as after a failed call)", async () => {
		const host = await createHost();
		const lateDomain = unique("dom");
		const sp = serviceProcessorStub(host.hostId);
		await runInDurableObject(sp, async (_instance, state) => {
			// Failed once, and its back-off has passed.
			state.storage.sql.exec(
				"INSERT INTO outbox (lane, payload, attempts, next_attempt_ms) VALUES ('directory', ?, 1, ?)",
				JSON.stringify({ kind: "join", domain: lateDomain }),
				Date.now(),
			);
			await state.storage.setAlarm(Date.now() + 60_000);
		});
		expect(await runDurableObjectAlarm(sp)).toBe(true);
		expect(await domainMembers(lateDomain)).toEqual([host.hostId]);
		const pending = await runInDurableObject(sp, (_instance, state) =>
			state.storage.sql.exec("SELECT * FROM outbox").toArray(),
		);
		expect(pending).toEqual([]);
	});

	it("refuses a request without the admin token and creates nothing", async () => {
		const hostId = unique("host");
		const response = await call(`/v1/hosts/${hostId}`, {
			method: "PUT",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify(hostBody(unique("dom"))),
		});
		expect(response.status).toBe(401);
		expect((await problemOf(response)).code).toBe("unauthorized");
		expect((await admin("GET", `/v1/hosts/${hostId}`)).status).toBe(404);
	});

	it("refuses an invalid host id with invalid_request", async () => {
		const response = await admin("PUT", "/v1/hosts/-bad", hostBody(unique("dom")));
		expect(response.status).toBe(400);
		expect((await problemOf(response)).code).toBe("invalid_request");
	});

	it("refuses a body missing a field, naming it, and leaves the host unchanged", async () => {
		const host = await createHost();
		const { cpu: _cpu, ...withoutCpu } = hostBody(unique("dom"));
		const response = await admin("PUT", `/v1/hosts/${host.hostId}`, withoutCpu);
		expect(response.status).toBe(400);
		const problem = await problemOf(response);
		expect(problem.code).toBe("invalid_request");
		expect(problem.detail).toContain("cpu");
		const after = (await (await admin("GET", `/v1/hosts/${host.hostId}`)).json()) as {
			domain: string;
		};
		expect(after.domain).toBe(host.domain);
	});

	it("refuses malformed JSON with invalid_request", async () => {
		const response = await call(`/v1/hosts/${unique("host")}`, {
			method: "PUT",
			headers: { Authorization: "Bearer test-admin-token", "Content-Type": "application/json" },
			body: "{not json",
		});
		expect(response.status).toBe(400);
		expect((await problemOf(response)).code).toBe("invalid_request");
	});

	it("refuses a body that is not JSON by type with invalid_request naming Content-Type, creating nothing", async () => {
		const hostId = unique("host");
		const response = await call(`/v1/hosts/${hostId}`, {
			method: "PUT",
			headers: { Authorization: "Bearer test-admin-token", "Content-Type": "text/plain" },
			body: JSON.stringify(hostBody(unique("dom"))),
		});
		expect(response.status).toBe(400);
		expect((await problemOf(response)).detail).toBe(
			"header.content-type: must be application/json",
		);
		expect((await admin("GET", `/v1/hosts/${hostId}`)).status).toBe(404);
	});
});

describe("GET /v1/hosts", () => {
	it("reads a host with its facts and no secrets", async () => {
		const host = await createHost();
		const response = await admin("GET", `/v1/hosts/${host.hostId}`);
		expect(response.status).toBe(200);
		const body = (await response.json()) as Record<string, unknown>;
		expect(body).toMatchObject({
			hostId: host.hostId,
			domain: host.domain,
			site: "fra-1",
			cpu: { model: "AMD EPYC 9654", flags: ["avx2", "sev"] },
			memoryMiB: 786_432,
			hypervisor: { name: "cloud-hypervisor", version: "41.0" },
			facts: {},
		});
		expect(JSON.stringify(body)).not.toContain(host.agentToken);
		expect(JSON.stringify(body)).not.toContain(host.webhookSecret);
	});

	it("answers an unknown host with host_not_found", async () => {
		const response = await admin("GET", `/v1/hosts/${unique("host")}`);
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("host_not_found");
	});

	it("lists the hosts of one domain, newest first", async () => {
		const domain = unique("dom");
		const first = await createHost(unique("host"), domain);
		const second = await createHost(unique("host"), domain);
		await createHost();
		const response = await admin("GET", `/v1/hosts?domain=${domain}`);
		expect(response.status).toBe(200);
		const { hosts } = (await response.json()) as { hosts: Array<{ hostId: string }> };
		expect(hosts.map((host) => host.hostId)).toEqual([second.hostId, first.hostId]);
	});

	it("lists every host without a domain filter", async () => {
		const host = await createHost();
		const { hosts } = (await (await admin("GET", "/v1/hosts")).json()) as {
			hosts: Array<{ hostId: string }>;
		};
		expect(hosts.map((entry) => entry.hostId)).toContain(host.hostId);
	});

	it("refuses to list without the admin token", async () => {
		const response = await call("/v1/hosts");
		expect(response.status).toBe(401);
		expect((await problemOf(response)).code).toBe("unauthorized");
	});

	it("refuses an invalid domain filter with invalid_request", async () => {
		const response = await admin("GET", "/v1/hosts?domain=%20bad");
		expect(response.status).toBe(400);
		expect((await problemOf(response)).code).toBe("invalid_request");
	});
});

describe("agentConnected", () => {
	/** `agentConnected` as GET /v1/hosts/{hostId} and GET /v1/hosts?domain= show it. */
	async function shownConnected(host: { hostId: string; domain: string }) {
		const one = (await (await admin("GET", `/v1/hosts/${host.hostId}`)).json()) as {
			agentConnected: boolean;
		};
		const { hosts } = (await (await admin("GET", `/v1/hosts?domain=${host.domain}`)).json()) as {
			hosts: Array<{ agentConnected: boolean }>;
		};
		return { one: one.agentConnected, listed: hosts.map((entry) => entry.agentConnected) };
	}

	it("is false before the host's agent connects", async () => {
		const host = await createHost();
		expect(await shownConnected(host)).toEqual({ one: false, listed: [false] });
	});

	it("is true while the agent's channel is open", async () => {
		const host = await createHost();
		const agent = await connectAgent(host);
		expect(await shownConnected(host)).toEqual({ one: true, listed: [true] });
		agent.close();
		await agent.waitClosed();
	});

	it("is false once the agent has disconnected", async () => {
		const host = await createHost();
		const agent = await connectAgent(host);
		agent.close(1001, "agent restart");
		await agent.waitClosed();
		expect(await shownConnected(host)).toEqual({ one: false, listed: [false] });
	});

	it("stays true when a newer agent connection replaces the old one", async () => {
		const host = await createHost();
		const old = await connectAgent(host);
		const replacement = await connectAgent(host);
		expect((await old.waitClosed()).code).toBe(4000);
		expect(await shownConnected(host)).toEqual({ one: true, listed: [true] });
		replacement.close();
		await replacement.waitClosed();
	});

	it("is in the 200 of an update too", async () => {
		const host = await createHost();
		const response = await admin("PUT", `/v1/hosts/${host.hostId}`, hostBody(host.domain));
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({ hostId: host.hostId, agentConnected: false });
	});

	it("stays out of the host record the service processor hands to the risk rules", async () => {
		const host = await createHost();
		const agent = await connectAgent(host);
		const sp = serviceProcessor(host.hostId);
		expect((await sp.describeHost())?.agentConnected).toBe(true);
		expect(await sp.getHost()).not.toHaveProperty("agentConnected");
		agent.close();
		await agent.waitClosed();
	});
});
