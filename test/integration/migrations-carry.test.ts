// Proves that a console session survives its VM's live migration: the user
// channel stays where it was secured, the VM's new host's agent dials the VM
// side again (`session.open` with `resume`), input typed during the switch
// waits and arrives in order (bounded: past the bound, buffer_overflow),
// output keeps flowing, and the record says where the VM side is. Whatever
// closes a session still reaches a carried one (rotation and removal on the
// new host, terminate); A → B → A carries it again; a failed migration
// leaves it alone; a vm_pending session attaches on the target; a VM side
// that never comes back closes the session with vm_migrated. A user side
// that speaks the console subprotocol hears of the move in a text frame of
// its own; the console stream itself carries nothing but the VM's bytes.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { consoleProtocol } from "../../shared/console-protocol";
import { openSession, type SessionOpenCommand } from "../support/console";
import { admin } from "../support/http";
import { agentFor, migratingVm, sendWebhook, startMigration } from "../support/migration";
import { serviceProcessorStub } from "../support/objects";
import { connect, type TestSocket } from "../support/sockets";

type Session = { state: string; hostId: string; vmHostId: string; closeReason: string | null };

async function sessionRecord(sessionId: string): Promise<Session> {
	return (await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as Session;
}

/** Ages the holder's stored times with `statement` (time is not waited for), then runs its alarm. */
async function alarmAfter(hostId: string, statement: string, ...bindings: unknown[]) {
	const holder = serviceProcessorStub(hostId);
	await runInDurableObject(holder, (_, state) => {
		state.storage.sql.exec(statement, ...bindings);
	});
	await runDurableObjectAlarm(holder);
}

/** Evicts a service processor (keeping hibernated sockets); one not running has nothing to lose. */
async function evict(hostId: string): Promise<void> {
	await evictDurableObject(serviceProcessorStub(hostId)).catch((error: Error) => {
		if (!/not currently running/.test(error.message)) throw error;
	});
}

async function auditTypes(hostId: string, sessionId: string): Promise<string[]> {
	const body = (await (await admin("GET", `/v1/hosts/${hostId}/audit`)).json()) as {
		events: Array<{ type: string; sessionId: string | null }>;
	};
	return body.events.filter((event) => event.sessionId === sessionId).map((event) => event.type);
}

/** A migrating VM with an established session on the source and both agents connected. */
async function sessionDuringMigration({ dialVm = true, userHeaders = {} } = {}) {
	const setup = await migratingVm();
	const sourceAgent = await agentFor(setup.source);
	const targetAgent = await agentFor(setup.target);
	const opened = await openSession({ domain: setup.domain, vm: setup.vmId, key: setup.key });
	const user = await connect(opened.userChannel.url, userHeaders);
	const open = (await sourceAgent.next("session.open")) as unknown as SessionOpenCommand;
	const vm = dialVm ? await connect(open.channel.url) : undefined;
	return { ...setup, sourceAgent, targetAgent, opened, user, vm };
}

/** The migration's source completes it; attaches the VM side the target's agent is told to dial. */
async function completeAndReattach(
	from: { hostId: string; webhookSecret: string },
	migrationId: string,
	targetAgent: Awaited<ReturnType<typeof agentFor>>,
): Promise<TestSocket> {
	const response = await sendWebhook(from, { type: "migration.completed", data: { migrationId } });
	expect(response.status).toBe(200);
	const reopen = await targetAgent.next("session.open");
	expect(reopen.resume).toBe(true);
	return connect((reopen as unknown as SessionOpenCommand).channel.url);
}

describe("a console session across its VM's live migration", () => {
	it("keeps the user channel; input typed during the switch reaches the new VM side in order, its output reaches the user", async () => {
		const { user, vm, target, source, migrationId, targetAgent, opened } =
			await sessionDuringMigration();
		user.send("before");
		expect(await vm?.next()).toBe("before");
		const response = await sendWebhook(source, {
			type: "migration.completed",
			data: { migrationId },
		});
		expect(response.status).toBe(200);
		// The switch: the old VM side gets nothing more; what is typed waits.
		user.send("during-1");
		user.send(new Uint8Array([1, 2, 3]));
		user.send("during-2");
		const reopen = await targetAgent.next("session.open");
		const moved = await connect((reopen as unknown as SessionOpenCommand).channel.url);
		expect(await moved.next()).toBe("during-1");
		expect(await moved.next()).toEqual(new Uint8Array([1, 2, 3]));
		expect(await moved.next()).toBe("during-2");
		expect(await vm?.waitClosed()).toMatchObject({ reason: "vm_migrated" });
		expect(vm?.pending()).toBe(0);
		moved.send("after");
		expect(await user.next()).toBe("after");
		user.send("again");
		expect(await moved.next()).toBe("again");
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			state: "established",
			hostId: source.hostId,
			vmHostId: target.hostId,
			closeReason: null,
		});
		expect(await auditTypes(source.hostId, opened.sessionId)).toEqual(
			expect.arrayContaining(["session.vm_moving", "session.vm_reattached"]),
		);
		expect(await auditTypes(target.hostId, opened.sessionId)).toContain("session.vm_moving");
	});

	it("closes with buffer_overflow, never a silent drop, when the input waiting for the switch passes the bound", async () => {
		const { source, user, migrationId, opened } = await sessionDuringMigration();
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		for (let frame = 0; frame <= 1024; frame++) user.send(`k${frame}`);
		expect(await user.waitClosed()).toMatchObject({ reason: "buffer_overflow" });
		expect(await sessionRecord(opened.sessionId)).toMatchObject({ closeReason: "buffer_overflow" });
	});

	it("stores no token for the new host's agent: connecting after an eviction, it gets one from the holder", async () => {
		const { user, source, target, migrationId, targetAgent } = await sessionDuringMigration();
		targetAgent.socket.close(1001, "agent restart");
		await targetAgent.socket.waitClosed();
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		const stored = await runInDurableObject(
			serviceProcessorStub(target.hostId),
			(_instance, state) =>
				state.storage.sql
					.exec<{ body: string }>("SELECT body FROM agent_commands WHERE type = 'session.open'")
					.toArray()
					.map((row) => row.body),
		);
		expect(stored).toHaveLength(1);
		expect(stored[0]).not.toContain("token=");
		await evict(target.hostId);
		const again = await agentFor(target);
		const reopen = (await again.next("session.open")) as unknown as SessionOpenCommand;
		const moved = await connect(reopen.channel.url);
		user.send("after the move");
		expect(await moved.next()).toBe("after the move");
	});

	it("closes with vm_migrated when the new host's agent does not re-attach within 30 s", async () => {
		const { user, source, migrationId, opened } = await sessionDuringMigration();
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		expect((await sessionRecord(opened.sessionId)).state).toBe("established");
		await alarmAfter(
			source.hostId,
			"UPDATE sessions SET vm_reattach_deadline_ms = ? WHERE session_id = ?",
			Date.now() - 1,
			opened.sessionId,
		);
		expect(await user.waitClosed()).toMatchObject({ reason: "vm_migrated" });
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			state: "closed",
			closeReason: "vm_migrated",
		});
	});

	for (const [what, act, reason] of [
		[
			"a key rotation on the new host",
			(hostId: string, vmId: string) => admin("POST", `/v1/hosts/${hostId}/vms/${vmId}/rotate-key`),
			"key_rotated",
		],
		[
			"the VM's removal from the new host",
			(hostId: string, vmId: string) => admin("DELETE", `/v1/hosts/${hostId}/vms/${vmId}`),
			"vm_removed",
		],
	] as const) {
		it(`is closed by ${what}`, async () => {
			const { source, user, target, migrationId, targetAgent, vmId, opened } =
				await sessionDuringMigration();
			await completeAndReattach(source, migrationId, targetAgent);
			expect((await act(target.hostId, vmId)).status).toBeLessThan(300);
			expect(await user.waitClosed()).toMatchObject({ reason });
			expect(await sessionRecord(opened.sessionId)).toMatchObject({ closeReason: reason });
		});
	}

	it("is terminated like any other after the move", async () => {
		const { source, user, migrationId, targetAgent, opened } = await sessionDuringMigration();
		const moved = await completeAndReattach(source, migrationId, targetAgent);
		expect((await admin("DELETE", `/v1/sessions/${opened.sessionId}`)).status).toBe(204);
		expect(await user.waitClosed()).toMatchObject({ reason: "terminated" });
		expect(await moved.waitClosed()).toMatchObject({ reason: "terminated" });
	});

	it("is carried again when the VM moves back (A → B → A)", async () => {
		const { user, source, target, migrationId, targetAgent, sourceAgent, vmId, opened } =
			await sessionDuringMigration();
		const onB = await completeAndReattach(source, migrationId, targetAgent);
		const back = await startMigration(vmId, source.hostId);
		expect(back.state).toBe("migrating");
		const onA = await completeAndReattach(target, back.migrationId, sourceAgent);
		expect(await onB.waitClosed()).toMatchObject({ reason: "vm_migrated" });
		user.send("home");
		expect(await onA.next()).toBe("home");
		onA.send("welcome back");
		expect(await user.next()).toBe("welcome back");
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			state: "established",
			hostId: source.hostId,
			vmHostId: source.hostId,
		});
	});

	it("tells a user side that speaks the console subprotocol that the VM moved, in a text frame apart from the binary console", async () => {
		const { source, user, vm, target, migrationId, targetAgent } = await sessionDuringMigration({
			userHeaders: { "Sec-WebSocket-Protocol": `chat, ${consoleProtocol}` },
		});
		vm?.send("text from the VM");
		expect(await user.next()).toEqual(new TextEncoder().encode("text from the VM"));
		const moved = await completeAndReattach(source, migrationId, targetAgent);
		expect(JSON.parse(String(await user.next()))).toEqual({
			type: "vm_moved",
			vmHostId: target.hostId,
		});
		moved.send("after the move");
		expect(await user.next()).toEqual(new TextEncoder().encode("after the move"));
	});

	it("sends no notice to a user side that did not offer the subprotocol", async () => {
		const { source, user, vm, migrationId, targetAgent } = await sessionDuringMigration();
		vm?.send("plain");
		expect(await user.next()).toBe("plain");
		const moved = await completeAndReattach(source, migrationId, targetAgent);
		moved.send("after");
		expect(await user.next()).toBe("after");
	});

	it("survives the eviction of either service processor mid-switch", async () => {
		const { user, vm, source, target, migrationId, targetAgent, opened } =
			await sessionDuringMigration();
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		await evict(source.hostId);
		await evict(target.hostId);
		user.send("typed while both were evicted");
		const reopen = await targetAgent.next("session.open");
		const moved = await connect((reopen as unknown as SessionOpenCommand).channel.url);
		expect(await moved.next()).toBe("typed while both were evicted");
		expect(await vm?.waitClosed()).toMatchObject({ reason: "vm_migrated" });
		moved.send("answer");
		expect(await user.next()).toBe("answer");
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			state: "established",
			vmHostId: target.hostId,
		});
	});

	it("records one continuous cast across the move", async () => {
		const { source, vm, migrationId, targetAgent, opened, user } = await sessionDuringMigration();
		vm?.send("before the move");
		await user.next();
		const moved = await completeAndReattach(source, migrationId, targetAgent);
		moved.send("after the move");
		await user.next();
		const cast = await (await admin("GET", `/v1/sessions/${opened.sessionId}/recording`)).text();
		const [header, ...events] = cast.trim().split("\n");
		expect(JSON.parse(header ?? "{}")).toMatchObject({ version: 2 });
		expect(events.map((line) => JSON.parse(line)[2])).toEqual([
			"before the move",
			"after the move",
		]);
	});

	for (const [what, column, ageMs, reason] of [
		["the idle timeout", "last_activity_ms", 16 * 60_000, "idle_timeout"],
		["the maximum duration", "created_ms", 13 * 3600_000, "max_duration"],
	] as const) {
		it(`is closed by ${what} after the move`, async () => {
			const { user, source, migrationId, targetAgent, opened } = await sessionDuringMigration();
			await completeAndReattach(source, migrationId, targetAgent);
			await alarmAfter(source.hostId, `UPDATE sessions SET ${column} = ${column} - ?`, ageMs);
			expect(await user.waitClosed()).toMatchObject({ reason });
			expect(await sessionRecord(opened.sessionId)).toMatchObject({ closeReason: reason });
		});
	}

	it("still closes a carried session whose user never attached once the user token expired", async () => {
		const setup = await migratingVm();
		const targetAgent = await agentFor(setup.target);
		const opened = await openSession({ domain: setup.domain, vm: setup.vmId, key: setup.key });
		const moved = await completeAndReattach(setup.source, setup.migrationId, targetAgent);
		await alarmAfter(setup.source.hostId, "UPDATE sessions SET created_ms = created_ms - 61000");
		expect(await moved.waitClosed()).toMatchObject({ reason: "user_never_attached" });
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			closeReason: "user_never_attached",
		});
	});

	it("is left untouched by a migration that fails", async () => {
		const { user, vm, source, migrationId, opened } = await sessionDuringMigration();
		await sendWebhook(source, {
			type: "migration.failed",
			data: { migrationId, reason: "QEMU: connection refused" },
		});
		user.send("still here");
		expect(await vm?.next()).toBe("still here");
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			state: "established",
			vmHostId: source.hostId,
		});
	});

	it("is left untouched by a migration that is cancelled", async () => {
		const { user, vm, source, migrationId, opened } = await sessionDuringMigration();
		expect((await admin("POST", `/v1/migrations/${migrationId}/cancel`)).status).toBe(200);
		await sendWebhook(source, {
			type: "migration.failed",
			data: { migrationId, reason: "cancelled on request; the VM stays on the source" },
		});
		user.send("still mine");
		expect(await vm?.next()).toBe("still mine");
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			state: "established",
			vmHostId: source.hostId,
		});
	});

	it("attaches a session still vm_pending on the target", async () => {
		const { source, user, target, migrationId, targetAgent, opened } = await sessionDuringMigration(
			{
				dialVm: false,
			},
		);
		user.send("typed early");
		expect((await sessionRecord(opened.sessionId)).state).toBe("vm_pending");
		const moved = await completeAndReattach(source, migrationId, targetAgent);
		expect(await moved.next()).toBe("typed early");
		expect(await sessionRecord(opened.sessionId)).toMatchObject({
			state: "established",
			vmHostId: target.hostId,
		});
	});
});
