// Proves the console relay through the service processor: both channels
// attach with single-use tokens, the state goes vm_pending → established
// with vmSecuredAt, text and binary frames pass verbatim both ways and in
// order (1,000 frames), frames sent before the other side attaches wait for
// it (bounded: 1,024 frames, 1 MiB), no frame over 1 MiB is relayed, bytes
// are counted each way, and a hang-up closes the other side with a reason.
// Does not cover eviction (eviction.test.ts) or timing.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	maxFrameBytes,
	maxPendingBytes,
	maxPendingFrames,
} from "../../durable-objects/service-processor/relay";
import {
	consoleProtocol,
	tokenInProtocol,
	tokenProtocolPrefix,
} from "../../shared/console-protocol";
import {
	connectAgent,
	establishedSession,
	hostWithVm,
	openSession,
	type SessionOpenCommand,
	unique,
	userTables,
} from "../support/console";
import { admin, problemOf } from "../support/http";
import { serviceProcessorStub } from "../support/objects";
import { connect, TestSocket, upgrade } from "../support/sockets";

const record = async (sessionId: string) =>
	(await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as Record<string, unknown>;

/** Frames waiting in the host's service processor for an absent side. */
const pendingFrames = (hostId: string) =>
	runInDurableObject(
		serviceProcessorStub(hostId),
		(_instance, state) => state.storage.sql.exec("SELECT 1 FROM pending_frames").toArray().length,
	);

describe("channels", () => {
	it("establishes the session when both sides attach, recording vmSecuredAt", async () => {
		const { opened } = await establishedSession();
		const session = await record(opened.sessionId);
		expect(session.state).toBe("established");
		expect(Date.parse(session.vmSecuredAt as string)).toBeGreaterThanOrEqual(
			Date.parse(session.userSecuredAt as string),
		);
	});

	it("establishes the session when the VM channel attaches, before the user dials", async () => {
		const host = await hostWithVm();
		const agent = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const command = await agent.nextJson<SessionOpenCommand>();
		await connect(command.channel.url);
		const session = await record(opened.sessionId);
		expect(session).toMatchObject({ state: "established", vmSecuredAt: expect.any(String) });
	});

	it("stays vm_pending while only the user side is attached", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		await connect(opened.userChannel.url);
		expect((await record(opened.sessionId)).state).toBe("vm_pending");
	});

	it("accepts a user channel token once only", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		await connect(opened.userChannel.url);
		const second = await upgrade(opened.userChannel.url);
		expect(second.status).toBe(401);
		expect((await problemOf(second)).code).toBe("unauthorized");
	});

	it("lets exactly one of concurrent upgrades with the same token through", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const responses = await Promise.all(
			Array.from({ length: 5 }, () => upgrade(opened.userChannel.url)),
		);
		expect(responses.map((response) => response.status).sort()).toEqual([101, 401, 401, 401, 401]);
		responses.find((response) => response.webSocket)?.webSocket?.accept();
	});

	it("accepts a VM channel token once only", async () => {
		const { command } = await establishedSession();
		const second = await upgrade(command.channel.url);
		expect(second.status).toBe(401);
	});

	it("refuses a wrong token, and the right one still works afterwards", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const wrongUrl = opened.userChannel.url.replace(/token=.*/, "token=wrong");
		expect((await upgrade(wrongUrl)).status).toBe(401);
		await connect(opened.userChannel.url);
	});

	describe("with the token in a subprotocol, out of the URL", () => {
		it("attaches a console-protocol user side and answers with the console protocol", async () => {
			const host = await hostWithVm();
			const agent = await connectAgent(host);
			const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
			const { url, tokenProtocol } = tokenInProtocol(opened.userChannel.url);
			expect(new URL(url).search).toBe("");
			const offered = `${consoleProtocol}, ${tokenProtocol}`;
			const response = await upgrade(url, { "Sec-WebSocket-Protocol": offered });
			expect(response.status).toBe(101);
			expect(response.headers.get("Sec-WebSocket-Protocol")).toBe(consoleProtocol);
			const vm = await connect((await agent.nextJson<SessionOpenCommand>()).channel.url);
			const user = new TestSocket(response.webSocket as WebSocket);
			vm.send("hello");
			// The console protocol's stream comes as binary.
			expect(new TextDecoder().decode((await user.next()) as Uint8Array)).toBe("hello");
		});

		it("attaches a VM side that offers only its token, answering with that subprotocol", async () => {
			const host = await hostWithVm();
			const agent = await connectAgent(host);
			const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
			const user = await connect(opened.userChannel.url);
			const command = await agent.nextJson<SessionOpenCommand>();
			const { url, tokenProtocol } = tokenInProtocol(command.channel.url);
			const response = await upgrade(url, { "Sec-WebSocket-Protocol": tokenProtocol as string });
			expect(response.status).toBe(101);
			expect(response.headers.get("Sec-WebSocket-Protocol")).toBe(tokenProtocol);
			const vm = new TestSocket(response.webSocket as WebSocket);
			user.send("ping");
			expect(await vm.next()).toBe("ping");
			expect(await record(opened.sessionId)).toMatchObject({ state: "established" });
		});

		it("spends it once, refuses a wrong one, and the right one still works afterwards", async () => {
			const host = await hostWithVm();
			const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
			const { url, tokenProtocol } = tokenInProtocol(opened.userChannel.url);
			const wrong = { "Sec-WebSocket-Protocol": `${tokenProtocolPrefix}wrong` };
			expect((await upgrade(url, wrong)).status).toBe(401);
			const right = { "Sec-WebSocket-Protocol": tokenProtocol as string };
			expect((await upgrade(url, right)).status).toBe(101);
			expect((await upgrade(url, right)).status).toBe(401);
		});
	});

	it("refuses a channel on a host nobody created, creating no storage for it", async () => {
		const hostId = unique("host");
		const url = `wss://edgevisor.test/v1/sessions/${hostId}~${crypto.randomUUID()}/user?token=x`;
		expect((await upgrade(url)).status).toBe(401);
		expect(await userTables(serviceProcessorStub(hostId))).toEqual([]);
	});

	it("refuses the user token on the VM side", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const crossed = opened.userChannel.url.replace("/user?", "/vm?");
		expect((await upgrade(crossed)).status).toBe(401);
	});

	it("does not spend the token on a request that is not an upgrade", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const plain = await admin(
			"GET",
			new URL(opened.userChannel.url.replace(/^wss/, "https")).pathname +
				new URL(opened.userChannel.url.replace(/^wss/, "https")).search,
		);
		expect(plain.status).toBe(400);
		await connect(opened.userChannel.url);
	});
});

describe("relay", () => {
	it("relays text both ways verbatim", async () => {
		const { user, vm } = await establishedSession();
		user.send("ls -la\r\n");
		expect(await vm.next()).toBe("ls -la\r\n");
		vm.send("total 0 ✓\r\n");
		expect(await user.next()).toBe("total 0 ✓\r\n");
	});

	it("relays binary both ways verbatim", async () => {
		const { user, vm } = await establishedSession();
		const fromUser = Uint8Array.from({ length: 256 }, (_, index) => index);
		user.send(fromUser);
		expect(await vm.next()).toEqual(fromUser);
		const fromVm = new Uint8Array([0, 255, 27, 91, 65, 0]);
		vm.send(fromVm);
		expect(await user.next()).toEqual(fromVm);
	});

	it("relays 1,000 frames in order each way", { timeout: 60_000 }, async () => {
		const { user, vm } = await establishedSession();
		for (let index = 0; index < 1000; index++) user.send(`u${index}`);
		for (let index = 0; index < 1000; index++) vm.send(new TextEncoder().encode(`v${index}`));
		for (let index = 0; index < 1000; index++) expect(await vm.next()).toBe(`u${index}`);
		for (let index = 0; index < 1000; index++) {
			expect(new TextDecoder().decode((await user.next()) as Uint8Array)).toBe(`v${index}`);
		}
	});

	it("delivers frames the user sent before the VM side attached, in order", async () => {
		const host = await hostWithVm();
		const agent = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const user = await connect(opened.userChannel.url);
		user.send("first");
		user.send(new Uint8Array([1, 2, 3]));
		user.send("third");
		const command = await agent.nextJson<SessionOpenCommand>();
		// The record is read after the frames: the DO handled them before this request.
		expect((await record(opened.sessionId)).bytesFromUser).toBe(13);
		const vm = await connect(command.channel.url);
		expect(await vm.next()).toBe("first");
		expect(await vm.next()).toEqual(new Uint8Array([1, 2, 3]));
		expect(await vm.next()).toBe("third");
	});

	it("closes the session with buffer_overflow when over 1,024 frames wait for the VM side", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const user = await connect(opened.userChannel.url);
		for (let index = 0; index <= maxPendingFrames; index++) user.send(`frame ${index}`);
		expect(await user.waitClosed(30_000)).toMatchObject({ reason: "buffer_overflow" });
		expect(await record(opened.sessionId)).toMatchObject({ closeReason: "buffer_overflow" });
	}, 60_000);

	it("closes the session with buffer_overflow when over 1 MiB waits for the VM side", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const user = await connect(opened.userChannel.url);
		const half = new Uint8Array(maxPendingBytes / 2);
		user.send(half);
		user.send(half);
		user.send(new Uint8Array(1));
		expect(await user.waitClosed()).toMatchObject({ reason: "buffer_overflow" });
		expect(await record(opened.sessionId)).toMatchObject({ closeReason: "buffer_overflow" });
		expect(await pendingFrames(host.hostId)).toBe(0);
	});

	it("closes the session with buffer_overflow when over 1 MiB of VM output waits for the user", async () => {
		const host = await hostWithVm();
		const agent = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const vm = await connect((await agent.nextJson<SessionOpenCommand>()).channel.url);
		for (let index = 0; index < 3; index++) vm.send("x".repeat(maxPendingBytes / 2));
		expect(await vm.waitClosed()).toMatchObject({ reason: "buffer_overflow" });
		expect(await record(opened.sessionId)).toMatchObject({ closeReason: "buffer_overflow" });
	});

	it("relays a 1 MiB frame whole, and closes the session with frame_too_large (1009) on a larger one", async () => {
		const { opened, user, vm } = await establishedSession();
		const largest = new Uint8Array(maxFrameBytes).fill(7);
		user.send(largest);
		expect(await vm.next()).toEqual(largest);
		user.send(new Uint8Array(maxFrameBytes + 1));
		expect(await user.waitClosed()).toEqual({ code: 1009, reason: "frame_too_large" });
		expect(await vm.waitClosed()).toEqual({ code: 1009, reason: "frame_too_large" });
		// The refused frame was neither relayed in part nor counted.
		expect(await record(opened.sessionId)).toMatchObject({
			state: "closed",
			closeReason: "frame_too_large",
			bytesFromUser: maxFrameBytes,
		});
	});

	it("closes with frame_too_large, not a silent drop, for a 16 MiB frame sent before the VM side attached", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const user = await connect(opened.userChannel.url);
		user.send(new Uint8Array(16 * 1024 * 1024));
		expect(await user.waitClosed()).toEqual({ code: 1009, reason: "frame_too_large" });
		expect(await record(opened.sessionId)).toMatchObject({
			closeReason: "frame_too_large",
			bytesFromUser: 0,
		});
		expect(await pendingFrames(host.hostId)).toBe(0);
	});

	it("counts bytes from each side", async () => {
		const { opened, user, vm } = await establishedSession();
		user.send("héllo");
		await vm.next();
		vm.send(new Uint8Array(10));
		await user.next();
		const session = await record(opened.sessionId);
		expect(session).toMatchObject({ bytesFromUser: 6, bytesFromVm: 10 });
	});

	it("closes the VM side with user_disconnected when the user hangs up", async () => {
		const { opened, user, vm } = await establishedSession();
		user.close(1000, "bye");
		expect(await vm.waitClosed()).toMatchObject({ reason: "user_disconnected" });
		expect(await record(opened.sessionId)).toMatchObject({
			state: "closed",
			closeReason: "user_disconnected",
		});
	});

	it("closes the user side with vm_disconnected when the VM side hangs up", async () => {
		const { opened, user, vm } = await establishedSession();
		vm.close(1000, "poweroff");
		expect(await user.waitClosed()).toMatchObject({ reason: "vm_disconnected" });
		expect((await record(opened.sessionId)).closeReason).toBe("vm_disconnected");
	});

	it("closes both sides and tells the agent session.close on DELETE", async () => {
		const { opened, user, vm, agent } = await establishedSession();
		expect((await admin("DELETE", `/v1/sessions/${opened.sessionId}`)).status).toBe(204);
		expect(await user.waitClosed()).toMatchObject({ reason: "terminated" });
		expect(await vm.waitClosed()).toMatchObject({ reason: "terminated" });
		expect(await agent.nextJson()).toMatchObject({
			type: "session.close",
			sessionId: opened.sessionId,
			reason: "terminated",
			id: expect.any(String),
		});
	});
});
