// Proves the migration survives its object going away: agent subtasks that
// never answer fail by alarm once their deadline passed, not before (also
// after the object was aborted; the alarms are run by the test), and
// results that arrive after an eviction still move validation on.
// Handoff recovery is in migrations-handoff.test.ts.
import {
	abortAllDurableObjects,
	evictDurableObject,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { defaultPolicy } from "../../shared/default-policy";
import { admin } from "../support/http";
import {
	agentFor,
	getMigration,
	migrationSetup,
	sendWebhook,
	startMigration,
} from "../support/migration";
import { probeWithin } from "../support/migration-policies";
import { virtualMachineStub } from "../support/objects";

/** When the VM's object will wake next, in ms since the epoch (null when it will not). */
const alarmOf = (vmId: string) =>
	runInDurableObject(virtualMachineStub(vmId), (_instance, state) => state.storage.getAlarm());

/** Moves the probe subtask's stored deadline to just now, as if its minute had gone by. */
const letDeadlinePass = (vmId: string) =>
	runInDurableObject(virtualMachineStub(vmId), (_instance, state) => {
		state.storage.sql.exec(
			`UPDATE migrations SET record = json_set(record, '$.validationSets[0].subtasks[0].deadline', ?)
			 WHERE active = 1`,
			new Date(Date.now() - 1).toISOString(),
		);
	});

afterEach(async () => {
	await admin("PUT", "/v1/migration-policy", defaultPolicy);
});

// The probe's timeout is a minute, so its real alarm never fires during a
// test: each alarm here runs because the test ran it, at a time it chose.
describe("timeouts", () => {
	it("wake the VM's object at the deadline of its agent subtask, which stays running until then", async () => {
		await admin("PUT", "/v1/migration-policy", probeWithin(60));
		const { vmId, target } = await migrationSetup();
		const { migrationId, state, validationSets } = await startMigration(vmId, target.hostId);
		expect(state).toBe("validating");
		const deadline = validationSets[0]?.subtasks[0]?.deadline;
		expect(await alarmOf(vmId)).toBe(Date.parse(deadline ?? ""));
		// Woken early (as after a restart), it fails nothing and sleeps until the deadline again.
		expect(await runDurableObjectAlarm(virtualMachineStub(vmId))).toBe(true);
		expect((await getMigration(migrationId)).state).toBe("validating");
		expect(await alarmOf(vmId)).toBe(Date.parse(deadline ?? ""));
	});

	it("fail an agent subtask with no result within its timeout, by alarm", async () => {
		await admin("PUT", "/v1/migration-policy", probeWithin(60));
		const { vmId, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		await letDeadlinePass(vmId);
		expect(await runDurableObjectAlarm(virtualMachineStub(vmId))).toBe(true);
		expect((await getMigration(migrationId)).failure).toEqual({
			stage: "validation",
			reason: "probe/ping failed: no result within 60 s",
		});
	});

	it("still fire after every object was aborted mid-validation", async () => {
		await admin("PUT", "/v1/migration-policy", probeWithin(60));
		const { vmId, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		await letDeadlinePass(vmId);
		await abortAllDurableObjects();
		expect(await runDurableObjectAlarm(virtualMachineStub(vmId))).toBe(true);
		expect(await getMigration(migrationId)).toMatchObject({
			state: "failed",
			failure: { reason: "probe/ping failed: no result within 60 s" },
		});
	});
});

describe("eviction during validation", () => {
	it("keeps the validation state, so later results still start the migration", async () => {
		const { vmId, source, target } = await migrationSetup({ site: "ams-1" });
		const record = await startMigration(vmId, target.hostId);
		await evictDurableObject(virtualMachineStub(vmId));
		for (const subtask of ["storage-paths", "network-bandwidth", "vlan-presence"]) {
			const data = {
				migrationId: record.migrationId,
				subtask: `site-reachability/${subtask}`,
				ok: true,
			};
			await sendWebhook(source, { type: "validation.result", data });
		}
		expect((await getMigration(record.migrationId)).state).toBe("migrating");
	});
});

describe("queued calls", () => {
	it("survive an abort before they were made, and the alarm makes them", async () => {
		const { vmId, source, target } = await migrationSetup();
		const agent = await agentFor(source);
		const { migrationId } = await startMigration(vmId, target.hostId);
		await agent.next("migration.start");
		// As if the object stopped right after committing a state that queued a command.
		const stub = virtualMachineStub(vmId);
		await runInDurableObject(stub, async (_, state) => {
			const command = { type: "migration.cancel", migrationId };
			const call = { kind: "agent", hostId: source.hostId, command };
			state.storage.sql.exec(
				"INSERT INTO outbox (lane, payload, next_attempt_ms) VALUES ('migration', ?, ?)",
				JSON.stringify(call),
				Date.now(),
			);
			await state.storage.setAlarm(Date.now() + 60_000);
		});
		await abortAllDurableObjects();
		const reconnected = await agentFor(source);
		expect(await runDurableObjectAlarm(virtualMachineStub(vmId))).toBe(true);
		expect(await reconnected.next("migration.cancel")).toMatchObject({ migrationId });
	});
});
