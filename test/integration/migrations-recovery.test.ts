// Proves the migration survives its object going away: agent subtasks that
// never answer fail by alarm (also after the object was aborted), and
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
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { admin } from "../support/http";
import {
	agentFor,
	getMigration,
	migrationSetup,
	sendWebhook,
	startMigration,
} from "../support/migration";
import { probeWithin1s } from "../support/migration-policies";
import { virtualMachineStub } from "../support/objects";
import { withTimeout } from "../support/sockets";

/** Polls the record until `done` holds (the alarm is the event; bounded). */
async function until(migrationId: string, done: (record: MigrationRecord) => boolean) {
	return withTimeout(
		(async () => {
			for (;;) {
				const record = await getMigration(migrationId);
				if (done(record)) return record;
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		})(),
		8_000,
		"migration did not reach the expected state",
	);
}

afterEach(async () => {
	await admin("PUT", "/v1/migration-policy", defaultPolicy);
});

describe("timeouts", () => {
	it("fail an agent subtask with no result within its timeout, by alarm", async () => {
		await admin("PUT", "/v1/migration-policy", probeWithin1s);
		const { vmId, target } = await migrationSetup();
		const { migrationId, state } = await startMigration(vmId, target.hostId);
		expect(state).toBe("validating");
		const failed = await until(migrationId, (record) => record.state === "failed");
		expect(failed.failure).toEqual({
			stage: "validation",
			reason: "probe/ping failed: no result within 1 s",
		});
	});

	it("still fire after every object was aborted mid-validation", async () => {
		await admin("PUT", "/v1/migration-policy", probeWithin1s);
		const { vmId, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		await abortAllDurableObjects();
		const failed = await until(migrationId, (record) => record.state === "failed");
		expect(failed.failure?.reason).toMatch(/no result within 1 s/);
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
