// Proves recovery: evicting the service processor mid-session keeps the
// session record and the SP table; with hibernated sockets the relay resumes,
// with closed sockets the session closes with a reason (never silently). The
// agent channel and its queue survive eviction too. Idle timeout and maximum
// duration close sessions through the object's alarm (time is advanced by
// ageing stored timestamps, not by waiting).
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	connectAgent,
	establishedSession,
	hostWithVm,
	openSession,
	type SessionOpenCommand,
} from "../support/console";
import { admin } from "../support/http";
import { serviceProcessor, serviceProcessorStub } from "../support/objects";
import { connect } from "../support/sockets";

const record = async (sessionId: string) =>
	(await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as Record<string, unknown>;

const alarmOf = (hostId: string) =>
	runInDurableObject(serviceProcessorStub(hostId), (_instance, state) => state.storage.getAlarm());

async function age(hostId: string, column: "last_activity_ms" | "created_ms", byMs: number) {
	await runInDurableObject(serviceProcessorStub(hostId), (_instance, state) => {
		state.storage.sql.exec(`UPDATE sessions SET ${column} = ${column} - ?`, byMs);
	});
}

describe("eviction mid-session", () => {
	it("keeps the session record and the SP table", async () => {
		const { host, opened, user, vm } = await establishedSession();
		user.send("before");
		await vm.next();
		const before = await record(opened.sessionId);
		await evictDurableObject(serviceProcessorStub(host.hostId));
		expect(await record(opened.sessionId)).toEqual(before);
		const { vms } = (await (await admin("GET", `/v1/hosts/${host.hostId}/vms`)).json()) as {
			vms: Array<{ vmId: string }>;
		};
		expect(vms.map((entry) => entry.vmId)).toEqual([host.vmId]);
	});

	it("resumes the relay both ways over hibernated sockets", async () => {
		const { host, opened, user, vm } = await establishedSession();
		await evictDurableObject(serviceProcessorStub(host.hostId));
		user.send("after eviction");
		expect(await vm.next()).toBe("after eviction");
		vm.send(new Uint8Array([7, 7]));
		expect(await user.next()).toEqual(new Uint8Array([7, 7]));
		expect(await record(opened.sessionId)).toMatchObject({
			state: "established",
			bytesFromUser: 14,
			bytesFromVm: 2,
		});
	});

	it("closes the session with connection_lost when eviction closed its sockets", async () => {
		const { host, opened, user } = await establishedSession();
		await evictDurableObject(serviceProcessorStub(host.hostId), { webSockets: "close" });
		await user.waitClosed();
		expect(await record(opened.sessionId)).toMatchObject({
			state: "closed",
			closeReason: "connection_lost",
		});
	});

	it("keeps the agent channel and delivers new commands after eviction", async () => {
		const { host, agent } = await establishedSession();
		await evictDurableObject(serviceProcessorStub(host.hostId));
		const id = await serviceProcessor(host.hostId).enqueueAgentCommand({ type: "noop" });
		expect((await agent.nextJson()).id).toBe(id);
	});
});

describe("session timeouts", () => {
	it("schedules an alarm for an open session", async () => {
		const { host } = await establishedSession();
		expect(await alarmOf(host.hostId)).toEqual(expect.any(Number));
	});

	it("keeps the alarm at the earliest deadline as later sessions open", async () => {
		const { host } = await establishedSession();
		const first = await alarmOf(host.hostId);
		await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect(await alarmOf(host.hostId)).toBe(first);
	});

	it("sets an alarm again for a session opened after the last one closed", async () => {
		const { host, opened } = await establishedSession();
		await admin("DELETE", `/v1/sessions/${opened.sessionId}`);
		// The alarm finds no open session and clears itself.
		await runDurableObjectAlarm(serviceProcessorStub(host.hostId));
		expect(await alarmOf(host.hostId)).toBeNull();
		await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect(await alarmOf(host.hostId)).toEqual(expect.any(Number));
	});

	it("closes an idle session with idle_timeout and both sockets with the reason", async () => {
		const { host, opened, user, vm } = await establishedSession();
		await age(host.hostId, "last_activity_ms", 900_000);
		expect(await runDurableObjectAlarm(serviceProcessorStub(host.hostId))).toBe(true);
		expect(await user.waitClosed()).toMatchObject({ reason: "idle_timeout" });
		expect(await vm.waitClosed()).toMatchObject({ reason: "idle_timeout" });
		expect(await record(opened.sessionId)).toMatchObject({
			state: "closed",
			closeReason: "idle_timeout",
		});
	});

	it("closes a session whose user never dialled once the user token expired, and the VM side with it", async () => {
		const host = await hostWithVm();
		const agent = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const command = await agent.nextJson<SessionOpenCommand>();
		const vm = await connect(command.channel.url);
		await runDurableObjectAlarm(serviceProcessorStub(host.hostId));
		expect((await record(opened.sessionId)).state).toBe("established");
		await age(host.hostId, "created_ms", 60_000);
		await runDurableObjectAlarm(serviceProcessorStub(host.hostId));
		expect(await vm.waitClosed()).toMatchObject({ reason: "user_never_attached" });
		expect(await record(opened.sessionId)).toMatchObject({ closeReason: "user_never_attached" });
	});

	it("sets the alarm for a new session no later than its user token's expiry", async () => {
		const { host } = await establishedSession();
		await runDurableObjectAlarm(serviceProcessorStub(host.hostId));
		const before = Date.now();
		await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect(await alarmOf(host.hostId)).toBeLessThanOrEqual(before + 60_000 + 1_000);
	});

	it("keeps a session that was active within the idle timeout", async () => {
		const { host, opened } = await establishedSession();
		await age(host.hostId, "last_activity_ms", 899_000);
		await runDurableObjectAlarm(serviceProcessorStub(host.hostId));
		expect((await record(opened.sessionId)).state).toBe("established");
	});

	it("closes a session past its maximum duration with max_duration, even when active", async () => {
		const { host, opened, user, vm } = await establishedSession();
		await age(host.hostId, "created_ms", 43_200_000);
		user.send("still typing");
		await vm.next();
		await runDurableObjectAlarm(serviceProcessorStub(host.hostId));
		expect(await user.waitClosed()).toMatchObject({ reason: "max_duration" });
		expect(await record(opened.sessionId)).toMatchObject({ closeReason: "max_duration" });
	});
});
