// Proves the console-access flow over real HTTP and real WebSockets against
// `wrangler dev`: enrol, a JWE built with jose from the served JWKS, the
// broadcast, `ws` as the user and as the host agent, relayed text and binary
// frames (1,000 in order), single-use tokens, replay refusal, lockout per
// address, the session rate limit, the frame limit, rotation closing
// sessions, agent reconnect receiving an unacked session.open, and a domain
// of 64 service processors. Timing is not measured.
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { claimsFor, encryptRequest } from "../support/jwe";
import { connectNode, type NodeSocket, refusedStatus } from "../support/ws-node";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
let jwks: JWK[] = [];

function admin(method: string, path: string, body?: unknown): Promise<Response> {
	return fetch(`${baseUrl}${path}`, {
		method,
		headers: {
			Authorization: `Bearer ${adminToken}`,
			...(body === undefined ? {} : { "Content-Type": "application/json" }),
		},
		body: body === undefined ? undefined : JSON.stringify(body),
	});
}

async function createHost(domain = unique("dom")) {
	const hostId = unique("host");
	const response = await admin("PUT", `/v1/hosts/${hostId}`, {
		domain,
		site: "fra-1",
		cpu: { model: "AMD EPYC 9654", flags: ["avx2"] },
		memoryMiB: 262_144,
		hypervisor: { name: "cloud-hypervisor", version: "41.0" },
	});
	expect(response.status).toBe(201);
	return (await response.json()) as { hostId: string; domain: string; agentToken: string };
}

async function enrol(hostId: string) {
	const vmId = unique("vm");
	const response = await admin("PUT", `/v1/hosts/${hostId}/vms/${vmId}`, {
		memoryMiB: 2048,
		vcpus: 1,
	});
	expect(response.status).toBe(201);
	return { vmId, key: ((await response.json()) as { key: string }).key };
}

async function jwe(claims: Record<string, unknown>): Promise<string> {
	const [key] = jwks;
	if (!key) throw new Error("no JWKS");
	return encryptRequest(key, claims);
}

/** POSTs a session request, from `client` when given (wrangler dev keeps a client's CF-Connecting-IP). */
function post(body: string, client?: string): Promise<Response> {
	return fetch(`${baseUrl}/v1/sessions`, {
		method: "POST",
		headers: {
			"Content-Type": "application/jose",
			...(client === undefined ? {} : { "CF-Connecting-IP": client }),
		},
		body,
	});
}

/** A private address of its own. */
const newAddress = () => `10.${crypto.getRandomValues(new Uint8Array(3)).join(".")}`;

const agentUrl = (hostId: string) => `${baseUrl.replace(/^http/, "ws")}/v1/hosts/${hostId}/agent`;

type Opened = { sessionId: string; userChannel: { url: string } };
type SessionOpen = { id: string; type: string; sessionId: string; channel: { url: string } };

/** Host, VM, agent connected, session opened and both sides attached. */
async function established() {
	const host = await createHost();
	const vm = await enrol(host.hostId);
	const agent = await connectNode(agentUrl(host.hostId), {
		Authorization: `Bearer ${host.agentToken}`,
	});
	const response = await post(
		await jwe(claimsFor({ domain: host.domain, vm: vm.vmId, key: vm.key })),
	);
	expect(response.status).toBe(201);
	const opened = (await response.json()) as Opened;
	const user = await connectNode(opened.userChannel.url);
	const command = await agent.nextJson<SessionOpen>();
	agent.send(JSON.stringify({ type: "ack", id: command.id }));
	const vmSide = await connectNode(command.channel.url);
	return { host, vm, agent, opened, user, vmSide, command };
}

const sockets: NodeSocket[] = [];

// Sockets a test keeps open while it runs are closed at the end, so the run ends cleanly.
afterAll(() => {
	for (const socket of sockets) socket.close();
});

beforeAll(async () => {
	const response = await fetch(`${baseUrl}/.well-known/jwks.json`);
	jwks = ((await response.json()) as { keys: JWK[] }).keys;
});

describe("console access over wrangler dev", () => {
	it("opens a session whose user channel URL is an absolute ws:// URL on this server", async () => {
		const { opened, user, vmSide, agent } = await established();
		sockets.push(user, vmSide, agent);
		expect(
			opened.userChannel.url.startsWith(`${baseUrl.replace(/^http/, "ws")}/v1/sessions/`),
		).toBe(true);
		const record = (await (await admin("GET", `/v1/sessions/${opened.sessionId}`)).json()) as {
			state: string;
		};
		expect(record.state).toBe("established");
		sockets.push(user, vmSide, agent);
	});

	it("relays text and binary frames both ways, and 1,000 frames in order", async () => {
		const { opened, user, vmSide } = await established();
		user.send("uname -a\r");
		expect(await vmSide.next()).toBe("uname -a\r");
		vmSide.send(new Uint8Array([0x1b, 0x5b, 0x48, 0x00, 0xff]));
		expect(await user.next()).toEqual(new Uint8Array([0x1b, 0x5b, 0x48, 0x00, 0xff]));
		for (let index = 0; index < 1000; index++) user.send(`frame ${index}`);
		for (let index = 0; index < 1000; index++) expect(await vmSide.next()).toBe(`frame ${index}`);
		for (let index = 0; index < 1000; index++)
			vmSide.send(new TextEncoder().encode(`out ${index}`));
		for (let index = 0; index < 1000; index++) {
			expect(new TextDecoder().decode((await user.next()) as Uint8Array)).toBe(`out ${index}`);
		}
		const record = (await (await admin("GET", `/v1/sessions/${opened.sessionId}`)).json()) as {
			bytesFromUser: number;
			bytesFromVm: number;
		};
		expect(record.bytesFromUser).toBeGreaterThan(8000);
		expect(record.bytesFromVm).toBeGreaterThan(6000);
		user.close();
		expect(await vmSide.waitClosed()).toMatchObject({ reason: "user_disconnected" });
	});

	it("closes the session with frame_too_large (1009) on a frame over 1 MiB, relaying none of it", async () => {
		const { opened, user, vmSide } = await established();
		user.send(Buffer.alloc(1024 * 1024 + 1));
		// A megabyte through wrangler dev's proxy can take a while on a loaded machine.
		expect(await user.waitClosed(30_000)).toEqual({ code: 1009, reason: "frame_too_large" });
		expect(await vmSide.waitClosed(30_000)).toEqual({ code: 1009, reason: "frame_too_large" });
		const record = await admin("GET", `/v1/sessions/${opened.sessionId}`);
		expect(await record.json()).toMatchObject({ closeReason: "frame_too_large", bytesFromUser: 0 });
	});

	it("accepts each channel token once only", async () => {
		const { opened, command, user, vmSide, agent } = await established();
		sockets.push(user, vmSide, agent);
		expect(await refusedStatus(opened.userChannel.url)).toBe(401);
		expect(await refusedStatus(command.channel.url)).toBe(401);
	});

	it("refuses a replayed request with 409 replayed_request", async () => {
		const host = await createHost();
		const vm = await enrol(host.hostId);
		const body = await jwe(claimsFor({ domain: host.domain, vm: vm.vmId, key: vm.key }));
		expect((await post(body)).status).toBe(201);
		const replay = await post(body);
		expect(replay.status).toBe(409);
		expect(((await replay.json()) as { code: string }).code).toBe("replayed_request");
	});

	it("locks the VM after more than 5 mismatches, the right key included, with Retry-After", async () => {
		const host = await createHost();
		const vm = await enrol(host.hostId);
		const statuses: number[] = [];
		for (let attempt = 0; attempt < 6; attempt++) {
			statuses.push(
				(await post(await jwe(claimsFor({ domain: host.domain, vm: vm.vmId, key: "wrong" }))))
					.status,
			);
		}
		expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
		const right = await post(
			await jwe(claimsFor({ domain: host.domain, vm: vm.vmId, key: vm.key })),
		);
		expect(right.status).toBe(429);
		expect(Number(right.headers.get("Retry-After"))).toBeGreaterThan(0);
		// Only the address that failed is locked out.
		const elsewhere = await post(
			await jwe(claimsFor({ domain: host.domain, vm: vm.vmId, key: vm.key })),
			newAddress(),
		);
		expect(elsewhere.status).toBe(201);
	});

	it("limits one address's session requests with 429 rate_limited, and only that address", async () => {
		const host = await createHost();
		const vm = await enrol(host.hostId);
		const noisy = newAddress();
		let refusal: Response | undefined;
		// The emulated limit (100 a minute) counts in clock-aligned windows: a
		// run straddling a boundary counts again, so up to twice the limit.
		for (let sent = 0; sent <= 200 && !refusal; sent++) {
			const response = await post("not-a-jwe", noisy);
			if (response.status === 429) refusal = response;
			else await response.body?.cancel();
		}
		if (!refusal) throw new Error("never limited");
		expect(refusal.headers.get("Retry-After")).toBe("60");
		expect(((await refusal.json()) as { code: string }).code).toBe("rate_limited");
		const claims = claimsFor({ domain: host.domain, vm: vm.vmId, key: vm.key });
		expect((await post(await jwe(claims), noisy)).status).toBe(429);
		expect((await post(await jwe(claims), newAddress())).status).toBe(201);
	});

	it("closes open sessions when the key is rotated", { timeout: 90_000 }, async () => {
		const { host, vm, opened, user, vmSide, agent } = await established();
		sockets.push(agent);
		const rotated = await admin("POST", `/v1/hosts/${host.hostId}/vms/${vm.vmId}/rotate-key`);
		expect(rotated.status).toBe(200);
		const record = (await (await admin("GET", `/v1/sessions/${opened.sessionId}`)).json()) as {
			state: string;
			closeReason: string;
		};
		expect(record).toMatchObject({ state: "closed", closeReason: "key_rotated" });
		// Under wrangler dev the TCP teardown after a server-initiated close can wait for the
		// object's 10 s hibernation, so the close event is awaited with a generous bound.
		const [userClose, vmClose] = await Promise.all([
			user.waitClosed(45_000),
			vmSide.waitClosed(45_000),
		]);
		expect(userClose).toMatchObject({ code: 1000, reason: "key_rotated" });
		expect(vmClose).toMatchObject({ code: 1000, reason: "key_rotated" });
	});

	it("redelivers an unacked session.open to a reconnecting agent", async () => {
		const host = await createHost();
		const vm = await enrol(host.hostId);
		const headers = { Authorization: `Bearer ${host.agentToken}` };
		const first = await connectNode(agentUrl(host.hostId), headers);
		const response = await post(
			await jwe(claimsFor({ domain: host.domain, vm: vm.vmId, key: vm.key })),
		);
		const opened = (await response.json()) as Opened;
		const delivered = await first.nextJson<SessionOpen>();
		first.close(1001, "restart");
		await first.waitClosed();
		const second = await connectNode(agentUrl(host.hostId), headers);
		sockets.push(second);
		expect(await second.nextJson<SessionOpen>()).toEqual(delivered);
		expect(delivered).toMatchObject({ type: "session.open", sessionId: opened.sessionId });
	});

	it("refuses the agent channel without the host's agent token", async () => {
		const host = await createHost();
		expect(await refusedStatus(agentUrl(host.hostId))).toBe(401);
		expect(await refusedStatus(agentUrl(host.hostId), { Authorization: "Bearer wrong" })).toBe(401);
	});

	it("finds the one service processor of 64 in a domain that holds the VM", {
		timeout: 180_000,
	}, async () => {
		const domain = unique("dom");
		const hosts = await Promise.all(Array.from({ length: 64 }, () => createHost(domain)));
		const holder = hosts[42];
		if (!holder) throw new Error("no host 42");
		const vm = await enrol(holder.hostId);
		// The request takes the domain's learned route here (the holder announced the VM on
		// enrolment), and the holder's audit says so; that a flood of all 64 finds it too is
		// proven in test/integration/broadcast.test.ts, where the placed member can be made
		// to refuse.
		const response = await post(await jwe(claimsFor({ domain, vm: vm.vmId, key: vm.key })));
		expect(response.status).toBe(201);
		expect(await response.json()).toMatchObject({ hostId: holder.hostId, vmId: vm.vmId });
		const audit = await admin("GET", `/v1/hosts/${holder.hostId}/audit`);
		const { events } = (await audit.json()) as {
			events: Array<{ type: string; detail: { route?: string } | null }>;
		};
		const requested = events.filter((event) => event.type === "session.requested");
		expect(requested.map((event) => event.detail?.route)).toEqual(["learned"]);
	});
});
