// Proves the host agent channel: bearer-token upgrade (401 otherwise), one
// live channel per host, commands with unique ids, acks, and at-least-once
// redelivery of unacked commands — session.open included — on reconnect,
// with channel tokens kept out of storage (minted again after an eviction).
// Does not cover what the agent does with a command (that is the agent's).
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	connectAgent,
	createHost,
	hostWithVm,
	openSession,
	type SessionOpenCommand,
	unique,
	userTables,
} from "../support/console";
import { admin, call, problemOf } from "../support/http";
import { serviceProcessor, serviceProcessorStub } from "../support/objects";
import { rpcError } from "../support/rpc";
import { connect, upgrade } from "../support/sockets";

const agentUrl = (hostId: string) => `https://edgevisor.test/v1/hosts/${hostId}/agent`;

describe("GET /v1/hosts/{hostId}/agent", () => {
	it("refuses a missing token with 401", async () => {
		const host = await createHost();
		const response = await upgrade(agentUrl(host.hostId));
		expect(response.status).toBe(401);
		expect((await problemOf(response)).code).toBe("unauthorized");
	});

	it("refuses a wrong token with 401", async () => {
		const host = await createHost();
		const response = await upgrade(agentUrl(host.hostId), { Authorization: "Bearer wrong" });
		expect(response.status).toBe(401);
	});

	it("refuses another host's token with 401", async () => {
		const [host, other] = await Promise.all([createHost(), createHost()]);
		const response = await upgrade(agentUrl(host.hostId), {
			Authorization: `Bearer ${other.agentToken}`,
		});
		expect(response.status).toBe(401);
	});

	it("refuses an unknown host with 401 and creates no storage for it", async () => {
		const hostId = unique("host");
		const response = await upgrade(agentUrl(hostId), { Authorization: "Bearer anything" });
		expect(response.status).toBe(401);
		expect(await userTables(serviceProcessorStub(hostId))).toEqual([]);
		// The check sees tables where a host was created.
		expect(await userTables(serviceProcessorStub((await createHost()).hostId))).toContain("vms");
	});

	it("refuses the admin token: only the host's agent token opens its channel", async () => {
		const host = await createHost();
		const response = await upgrade(agentUrl(host.hostId), {
			Authorization: "Bearer test-admin-token",
		});
		expect(response.status).toBe(401);
	});

	it("refuses a right token without an upgrade with invalid_request", async () => {
		const host = await createHost();
		const response = await call(`/v1/hosts/${host.hostId}/agent`, {
			headers: { Authorization: `Bearer ${host.agentToken}` },
		});
		expect(response.status).toBe(400);
		expect((await problemOf(response)).code).toBe("invalid_request");
	});
});

describe("agent commands", () => {
	it("sends an enqueued command with its id to the connected agent", async () => {
		const host = await createHost();
		const agent = await connectAgent(host);
		const id = await serviceProcessor(host.hostId).enqueueAgentCommand({
			type: "vf.hold",
			bdf: "0000:03:00.0",
		});
		expect(await agent.nextJson()).toEqual({ id, type: "vf.hold", bdf: "0000:03:00.0" });
	});

	it("gives every command a unique id", async () => {
		const host = await createHost();
		const ids = await Promise.all(
			Array.from({ length: 20 }, () =>
				serviceProcessor(host.hostId).enqueueAgentCommand({ type: "noop" }),
			),
		);
		expect(new Set(ids).size).toBe(20);
	});

	it("answers a refusal as a result, so the object does not report it as an uncaught error", async () => {
		// The raw stub, to see what crosses RPC before the accessors throw it again.
		const answered = await serviceProcessorStub(unique("host"))
			.enqueueAgentCommand({ type: "noop" })
			.then(
				(value: unknown) => value,
				() => "thrown",
			);
		expect(answered).toEqual({
			"edgevisor:refusal": expect.objectContaining({ code: "host_not_found" }),
		});
	});

	it("refuses to queue a command for an unknown host with host_not_found", async () => {
		const error = await rpcError(
			serviceProcessor(unique("host")).enqueueAgentCommand({ type: "noop" }),
		);
		expect(error).toMatchObject({ code: "host_not_found" });
	});

	it("redelivers unacked commands in order when the agent reconnects, and not acked ones", async () => {
		const host = await createHost();
		const first = await connectAgent(host);
		const acked = await serviceProcessor(host.hostId).enqueueAgentCommand({
			type: "migration.cancel",
			migrationId: "m1",
		});
		const unacked = await serviceProcessor(host.hostId).enqueueAgentCommand({
			type: "migration.cancel",
			migrationId: "m2",
		});
		expect((await first.nextJson()).id).toBe(acked);
		expect((await first.nextJson()).id).toBe(unacked);
		first.send(JSON.stringify({ type: "ack", id: acked }));
		expect(await serviceProcessor(host.hostId).unackedAgentCommands()).toEqual([unacked]);
		first.close();
		await first.waitClosed();
		const second = await connectAgent(host);
		expect(await second.nextJson()).toMatchObject({ id: unacked, migrationId: "m2" });
		// A marker command proves nothing else was queued before it.
		const marker = await serviceProcessor(host.hostId).enqueueAgentCommand({ type: "marker" });
		expect((await second.nextJson()).id).toBe(marker);
	});

	it("does not redeliver a command acked just before the agent reconnects", async () => {
		const host = await createHost();
		const first = await connectAgent(host);
		const acked = await serviceProcessor(host.hostId).enqueueAgentCommand({
			type: "migration.cancel",
		});
		expect((await first.nextJson()).id).toBe(acked);
		// Reconnect at once, well before acks would be written on their own.
		first.send(JSON.stringify({ type: "ack", id: acked }));
		first.close();
		await first.waitClosed();
		const second = await connectAgent(host);
		const marker = await serviceProcessor(host.hostId).enqueueAgentCommand({ type: "marker" });
		expect((await second.nextJson()).id).toBe(marker);
	});

	it("takes one ack frame with ids for a burst of commands", async () => {
		const host = await createHost();
		const agent = await connectAgent(host);
		const ids = [];
		for (let index = 0; index < 3; index++) {
			ids.push(await serviceProcessor(host.hostId).enqueueAgentCommand({ type: "marker", index }));
		}
		for (const id of ids) expect((await agent.nextJson()).id).toBe(id);
		const [first, second, third] = ids;
		// Non-string ids are ignored; the command they do not name stays queued.
		agent.send(JSON.stringify({ type: "ack", ids: [first, 7, third] }));
		expect(await serviceProcessor(host.hostId).unackedAgentCommands()).toEqual([second]);
	});

	it("holds commands queued while no agent is connected and delivers them on connect", async () => {
		const host = await createHost();
		const id = await serviceProcessor(host.hostId).enqueueAgentCommand({
			type: "validation.run",
			migrationId: "m",
		});
		const agent = await connectAgent(host);
		expect((await agent.nextJson()).id).toBe(id);
	});

	it("replaces the old channel when a new agent connects", async () => {
		const host = await createHost();
		const old = await connectAgent(host);
		const current = await connectAgent(host);
		expect((await old.waitClosed()).code).toBe(4000);
		const id = await serviceProcessor(host.hostId).enqueueAgentCommand({ type: "noop" });
		expect((await current.nextJson()).id).toBe(id);
		expect(old.pending()).toBe(0);
	});

	it("ignores malformed agent messages and keeps the channel", async () => {
		const host = await createHost();
		const agent = await connectAgent(host);
		agent.send("not json");
		agent.send(new Uint8Array([1, 2]));
		agent.send(JSON.stringify({ type: "ack" }));
		const id = await serviceProcessor(host.hostId).enqueueAgentCommand({ type: "noop" });
		expect((await agent.nextJson()).id).toBe(id);
	});
});

describe("session.open over the agent channel", () => {
	it("sends session.open with a single-use VM channel URL for each opened session", async () => {
		const host = await hostWithVm();
		const agent = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const command = await agent.nextJson<SessionOpenCommand>();
		expect(command).toEqual({
			id: expect.any(String),
			type: "session.open",
			sessionId: opened.sessionId,
			vmId: host.vmId,
			channel: {
				url: expect.stringMatching(/^wss:\/\/edgevisor\.test\/v1\/sessions\/.+\/vm\?token=/),
			},
			// The VM's size from the SP table (additive: a simulated guest shows it).
			vm: { memoryMiB: 4096, vcpus: 2 },
		});
	});

	it("redelivers an unacked session.open after the agent reconnects, and its URL still works", async () => {
		const host = await hostWithVm();
		const first = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const delivered = await first.nextJson<SessionOpenCommand>();
		first.close(1001, "agent restart");
		await first.waitClosed();
		const second = await connectAgent(host);
		const redelivered = await second.nextJson<SessionOpenCommand>();
		expect(redelivered).toEqual(delivered);
		second.send(JSON.stringify({ type: "ack", id: redelivered.id }));
		const user = await connect(opened.userChannel.url);
		const vm = await connect(redelivered.channel.url);
		user.send("hello");
		expect(await vm.next()).toBe("hello");
	});

	it("never stores a usable channel token: a replay after an eviction gets a fresh one that works", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const stored = await runInDurableObject(serviceProcessorStub(host.hostId), (_instance, state) =>
			state.storage.sql
				.exec<{ body: string }>("SELECT body FROM agent_commands")
				.toArray()
				.map((row) => row.body),
		);
		expect(stored).toHaveLength(1);
		expect(stored[0]).toContain('"type":"session.open"');
		expect(stored[0]).not.toContain("token=");
		// The URL minted with the session lived in memory only; after an eviction another is minted.
		await evictDurableObject(serviceProcessorStub(host.hostId));
		const agent = await connectAgent(host);
		const command = await agent.nextJson<SessionOpenCommand>();
		expect(command).toMatchObject({ type: "session.open", sessionId: opened.sessionId });
		expect(command.channel.url).toMatch(/\/vm\?token=/);
		const user = await connect(opened.userChannel.url);
		const vm = await connect(command.channel.url);
		user.send("hello");
		expect(await vm.next()).toBe("hello");
	});

	it("sends session.open to an agent that connects after the session was opened", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const agent = await connectAgent(host);
		expect(await agent.nextJson()).toMatchObject({
			type: "session.open",
			sessionId: opened.sessionId,
		});
	});

	it("tells a connected agent of the close of a session whose open it has not acked yet", async () => {
		const host = await hostWithVm();
		const agent = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect(await agent.nextJson()).toMatchObject({ type: "session.open" });
		await admin("DELETE", `/v1/sessions/${opened.sessionId}`);
		expect(await agent.nextJson()).toMatchObject({
			type: "session.close",
			sessionId: opened.sessionId,
			reason: "terminated",
		});
	});

	it("withdraws an unacked session.open when the session closes before the agent dialled", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		await admin("DELETE", `/v1/sessions/${opened.sessionId}`);
		expect(await serviceProcessor(host.hostId).unackedAgentCommands()).toEqual([]);
	});
});
