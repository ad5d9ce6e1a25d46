// Proves that a cancel never leaves the fleet disagreeing with where the VM
// runs: a cancel while migrating records an `unconfirmed` outcome; a
// `migration.completed` that follows (the agent finished the move before it
// could cancel) hands the VM over to the target anyway — row, placement,
// sessions carried to it — and marks the record `too_late` while it
// stays `cancelled`; a `migration.failed` that follows keeps the VM on the
// source; cancel and completion racing end on the target with one handoff;
// an interrupted too-late handoff resumes by alarm, and no new migration of
// the VM starts before it finished. Real signed webhooks.
// Does not cover the agent simulator's reaction to migration.cancel (e2e).
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { VirtualMachine } from "../../durable-objects/virtual-machine";
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { openSession } from "../support/console";
import { admin, problemOf } from "../support/http";
import {
	agentFor,
	getMigration,
	migratingVm,
	migrationSetup,
	postMigration,
	sendWebhook,
	startMigration,
} from "../support/migration";
import { serviceProcessor, virtualMachine, virtualMachineStub } from "../support/objects";
import { withTimeout } from "../support/sockets";

async function cancel(migrationId: string): Promise<Response> {
	return admin("POST", `/v1/migrations/${migrationId}/cancel`);
}

async function auditTypes(hostId: string, vmId: string): Promise<string[]> {
	const response = await admin("GET", `/v1/hosts/${hostId}/audit`);
	const { events } = (await response.json()) as {
		events: Array<{ type: string; vmId: string | null }>;
	};
	return events.filter((event) => event.vmId === vmId).map((event) => event.type);
}

/** Every SSE message of a migration after `lastEventId` until the stream ends (bounded). */
async function eventsAfter(migrationId: string, lastEventId?: number) {
	const headers: Record<string, string> =
		lastEventId === undefined ? {} : { "Last-Event-ID": String(lastEventId) };
	const response = await admin("GET", `/v1/migrations/${migrationId}/events`, undefined, headers);
	const text = await withTimeout(response.text(), 5_000, "the event stream did not end");
	return text
		.split("\n\n")
		.filter((message) => /^data: /m.test(message))
		.map((message) => ({
			id: Number(/^id: (\d+)$/m.exec(message)?.[1]),
			record: JSON.parse(/^data: (.*)$/m.exec(message)?.[1] ?? "null") as MigrationRecord,
		}));
}

describe("a cancel while migrating", () => {
	it("answers 200 cancelled, with an unconfirmed outcome while the agent has not reported", async () => {
		const { migrationId, source } = await migratingVm();
		const response = await cancel(migrationId);
		expect(response.status).toBe(200);
		const record = (await response.json()) as MigrationRecord;
		expect(record.state).toBe("cancelled");
		expect(record.cancellation).toMatchObject({ during: "migrating", outcome: "unconfirmed" });
		expect(record.cancellation?.detail).toContain(source.hostId);
	});

	it("hands the VM over to the target when migration.completed follows, and stays cancelled", async () => {
		const { vmId, key, domain, source, target, migrationId } = await migratingVm();
		const session = await openSession({ domain, vm: vmId, key });
		expect(session.hostId).toBe(source.hostId);
		const row = await serviceProcessor(source.hostId).exportVm(vmId);
		expect((await cancel(migrationId)).status).toBe(200);
		const completed = await sendWebhook(source, {
			type: "migration.completed",
			data: { migrationId },
		});
		expect(completed.status).toBe(200);
		expect(await completed.json()).toMatchObject({ applied: true });
		const record = await getMigration(migrationId);
		expect(record).toMatchObject({
			state: "cancelled",
			progress: { percent: 100 },
			cancellation: { during: "migrating", outcome: "too_late" },
		});
		expect(record.progress.phase).toBeUndefined();
		expect(record.cancellation?.detail).toContain(target.hostId);
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: target.hostId });
		expect(await serviceProcessor(target.hostId).exportVm(vmId)).toEqual(row);
		expect(await serviceProcessor(source.hostId).exportVm(vmId)).toBeNull();
		// Its console sessions follow the VM as after any completed move (migrations-carry.test.ts).
		const carried = await (await admin("GET", `/v1/sessions/${session.sessionId}`)).json();
		expect(carried).toMatchObject({ state: "vm_pending", vmHostId: target.hostId });
		expect((await openSession({ domain, vm: vmId, key })).hostId).toBe(target.hostId);
	});

	it("stays not_cancellable after the too-late handoff, changing nothing", async () => {
		const { vmId, source, target, migrationId } = await migratingVm();
		await cancel(migrationId);
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		const before = await getMigration(migrationId);
		const again = await cancel(migrationId);
		expect(again.status).toBe(409);
		expect((await problemOf(again)).code).toBe("not_cancellable");
		expect(await getMigration(migrationId)).toEqual(before);
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: target.hostId });
	});

	it("keeps the VM on the source when migration.failed follows, and records the stop", async () => {
		const { vmId, source, target, migrationId } = await migratingVm();
		const row = await serviceProcessor(source.hostId).exportVm(vmId);
		await cancel(migrationId);
		const failed = await sendWebhook(source, {
			type: "migration.failed",
			data: { migrationId, reason: "aborted by cancel" },
		});
		expect(failed.status).toBe(200);
		const record = await getMigration(migrationId);
		expect(record.state).toBe("cancelled");
		expect(record.failure).toBeUndefined();
		expect(record.cancellation).toMatchObject({ during: "migrating", outcome: "stopped" });
		expect(record.cancellation?.detail).toContain("aborted by cancel");
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: source.hostId });
		expect(await serviceProcessor(source.hostId).exportVm(vmId)).toEqual(row);
		expect(await serviceProcessor(target.hostId).exportVm(vmId)).toBeNull();
		// The outcome is settled: a completion now is too late to believe.
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: source.hostId });
		expect(await getMigration(migrationId)).toEqual(record);
	});

	it("publishes the too-late outcome on the events stream after the cancel", async () => {
		const { source, migrationId } = await migratingVm();
		await cancel(migrationId);
		const [atCancel] = await eventsAfter(migrationId);
		expect(atCancel?.record.cancellation?.outcome).toBe("unconfirmed");
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		const later = await eventsAfter(migrationId, atCancel?.id);
		expect(later.map((event) => [event.record.state, event.record.progress.phase])).toEqual([
			["cancelled", "handoff"],
			["cancelled", undefined],
		]);
		expect(later.every((event) => event.record.cancellation?.outcome === "too_late")).toBe(true);
	});
});

describe("a cancel while validating", () => {
	it("is stopped at once, and a migration.completed cannot move the VM", async () => {
		const { vmId, source, target } = await migrationSetup({ site: "ams-1" });
		const { migrationId, state } = await startMigration(vmId, target.hostId);
		expect(state).toBe("validating");
		const cancelled = (await (await cancel(migrationId)).json()) as MigrationRecord;
		expect(cancelled.cancellation).toMatchObject({ during: "validating", outcome: "stopped" });
		const completed = await sendWebhook(source, {
			type: "migration.completed",
			data: { migrationId },
		});
		expect(await completed.json()).toMatchObject({ applied: false });
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: source.hostId });
		expect(await serviceProcessor(target.hostId).exportVm(vmId)).toBeNull();
	});
});

describe("cancel racing migration.completed", () => {
	it("refuses a cancel that lands after the completion, which hands over as usual", async () => {
		const { vmId, source, target, migrationId } = await migratingVm();
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		const late = await cancel(migrationId);
		expect([late.status, (await problemOf(late)).code]).toEqual([409, "not_cancellable"]);
		const record = await getMigration(migrationId);
		expect(record.state).toBe("completed");
		expect(record.cancellation).toBeUndefined();
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: target.hostId });
	});

	for (const round of [1, 2, 3]) {
		// Inside workerd the cancel tends to land first; the test above pins the other order.
		it(`ends on the target with exactly one handoff, whichever lands first (round ${round})`, async () => {
			const { vmId, source, target, migrationId } = await migratingVm();
			const [cancelled, completed] = await Promise.all([
				cancel(migrationId),
				sendWebhook(source, { type: "migration.completed", data: { migrationId } }),
			]);
			expect(completed.status).toBe(200);
			const record = await getMigration(migrationId);
			if (cancelled.status === 200) {
				expect(record).toMatchObject({
					state: "cancelled",
					cancellation: { outcome: "too_late" },
				});
			} else {
				expect([cancelled.status, (await problemOf(cancelled)).code]).toEqual([
					409,
					"not_cancellable",
				]);
				expect(record.state).toBe("completed");
			}
			expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: target.hostId });
			expect(await serviceProcessor(source.hostId).exportVm(vmId)).toBeNull();
			expect(await serviceProcessor(target.hostId).exportVm(vmId)).not.toBeNull();
			const adopted = (await auditTypes(target.hostId, vmId)).filter((t) => t === "vm.adopted");
			const released = (await auditTypes(source.hostId, vmId)).filter((t) => t === "vm.released");
			expect([adopted.length, released.length]).toEqual([1, 1]);
		});
	}
});

/**
 * A VM whose migration was cancelled too late, its handoff stopped after the
 * target adopted the row (as if the run applying migration.completed was cut
 * off there), and every object aborted; the VM object's alarm would resume it.
 */
async function interruptedTooLateHandoff() {
	const { vmId, source, target, migrationId } = await migratingVm();
	await cancel(migrationId);
	const row = await serviceProcessor(source.hostId).exportVm(vmId);
	if (!row) throw new Error("fixture VM is enrolled on the source");
	await serviceProcessor(target.hostId).adoptVm(row);
	await runInDurableObject(
		virtualMachineStub(vmId) as DurableObjectStub<VirtualMachine>,
		async (_, state) => {
			state.storage.sql.exec(
				`UPDATE migrations SET handoff = ?,
				record = json_set(record, '$.cancellation.outcome', 'too_late')
			 WHERE migration_id = ?`,
				JSON.stringify({ step: "move", row }),
				migrationId,
			);
			await state.storage.setAlarm(Date.now() + 60_000);
		},
	);
	await abortAllDurableObjects();
	return { vmId, source, target, migrationId, row };
}

describe("an interrupted too-late handoff", () => {
	it("resumes by alarm after the objects were aborted, and ends on the target", async () => {
		const { vmId, source, target, migrationId, row } = await interruptedTooLateHandoff();
		expect(await runDurableObjectAlarm(virtualMachineStub(vmId))).toBe(true);
		expect(await getMigration(migrationId)).toMatchObject({
			state: "cancelled",
			progress: { percent: 100 },
			cancellation: { outcome: "too_late" },
		});
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: target.hostId });
		expect(await serviceProcessor(source.hostId).exportVm(vmId)).toBeNull();
		expect(await serviceProcessor(target.hostId).exportVm(vmId)).toEqual(row);
	});

	it("refuses a new migration of the VM until that handoff has finished", async () => {
		const { vmId, source } = await interruptedTooLateHandoff();
		const refused = await postMigration(vmId, source.hostId);
		expect(refused.status).toBe(409);
		expect(await problemOf(refused)).toMatchObject({ code: "migration_in_progress" });
		expect(await runDurableObjectAlarm(virtualMachineStub(vmId))).toBe(true);
		// Back from the target to the source is a new, acceptable migration now.
		expect((await postMigration(vmId, source.hostId)).status).toBe(201);
	});
});

describe("removing the VM from its host", () => {
	it("fails its migration and tells the source agent to stop; a VM enrolled again under the id is not moved by it", async () => {
		const { migrationId, source, target, vmId } = await migratingVm();
		expect((await admin("DELETE", `/v1/hosts/${source.hostId}/vms/${vmId}`)).status).toBe(204);
		expect(await getMigration(migrationId)).toMatchObject({
			state: "failed",
			failure: { stage: "migration", reason: `the VM was removed from ${source.hostId}` },
		});
		const agent = await agentFor(source);
		expect(await agent.next("migration.cancel")).toMatchObject({ migrationId });
		agent.socket.close();
		// Enrolled again with a new key: the old migration's late report moves nothing.
		const enrolled = await admin("PUT", `/v1/hosts/${source.hostId}/vms/${vmId}`, {
			memoryMiB: 1024,
			vcpus: 1,
		});
		expect(enrolled.status).toBe(201);
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		expect(await virtualMachine(vmId).getPlacement()).toMatchObject({ hostId: source.hostId });
		expect((await getMigration(migrationId)).state).toBe("failed");
		// And a new migration of it may start; the target's history counts no failure.
		expect((await postMigration(vmId, target.hostId)).status).toBe(201);
		expect(await serviceProcessor(target.hostId).countMigrationFailures(0)).toBe(0);
	});
});
