// Proves POST /v1/migrations and the validation phase inside workerd: every
// error code (leaving nothing stored or sent), dry runs, the record shape,
// set selection under the default policy, agent subtasks sent as
// validation.run and answered by validation.result webhooks, failures,
// one migration per VM under concurrent requests, reads and cancel.
// Handoff, timeouts/eviction and SSE are in migrations-*.test.ts.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { enrolVm, userTables } from "../support/console";
import { admin, call, problemOf } from "../support/http";
import {
	agentFor,
	getMigration,
	migrationSetup,
	postMigration,
	sendWebhook,
	startMigration,
	unackedCommands,
} from "../support/migration";
import { fleetStub, serviceProcessorStub, virtualMachineStub } from "../support/objects";

const crossSite = { site: "ams-1" };

async function migrationsOf(vmId: string): Promise<MigrationRecord[]> {
	const response = await admin("GET", `/v1/vms/${vmId}/migrations`);
	return ((await response.json()) as { migrations: MigrationRecord[] }).migrations;
}

async function expectProblem(response: Response, status: number, code: string) {
	expect(response.status).toBe(status);
	expect((await problemOf(response)).code).toBe(code);
}

describe("POST /v1/migrations refusals", () => {
	it("answers vm_not_found for a VM enrolled nowhere", async () => {
		const { target } = await migrationSetup();
		await expectProblem(await postMigration("vm-nowhere-1", target.hostId), 404, "vm_not_found");
	});

	it("answers host_not_found for an unknown target and stores nothing", async () => {
		const { vmId, source } = await migrationSetup();
		await expectProblem(await postMigration(vmId, "host-nowhere-1"), 404, "host_not_found");
		expect(await migrationsOf(vmId)).toEqual([]);
		expect(await unackedCommands(source.hostId)).toEqual([]);
	});

	it("answers same_host when the target is where the VM runs", async () => {
		const { vmId, source } = await migrationSetup();
		await expectProblem(await postMigration(vmId, source.hostId), 422, "same_host");
		expect(await migrationsOf(vmId)).toEqual([]);
	});

	it("answers invalid_request naming the field, and unauthorized without the token", async () => {
		const response = await admin("POST", "/v1/migrations", { vmId: "bad id!", targetHostId: "h" });
		await expectProblem(response, 400, "invalid_request");
		const unauthorized = await call("/v1/migrations", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ vmId: "vm-1", targetHostId: "h" }),
		});
		await expectProblem(unauthorized, 401, "unauthorized");
	});

	it("lets exactly one of concurrent requests for one VM start a migration", async () => {
		const { vmId, target } = await migrationSetup(crossSite);
		const responses = await Promise.all(
			Array.from({ length: 5 }, () => postMigration(vmId, target.hostId)),
		);
		const statuses = responses.map((response) => response.status).sort();
		expect(statuses).toEqual([201, 409, 409, 409, 409]);
		for (const response of responses.filter((r) => r.status === 409)) {
			expect((await problemOf(response)).code).toBe("migration_in_progress");
		}
		expect(await migrationsOf(vmId)).toHaveLength(1);
	});
});

describe("assessment", () => {
	it("fails at once in validation, saying so, when the target's agent is not connected", async () => {
		const { vmId, source, target, targetAgent } = await migrationSetup();
		targetAgent.close(1000, "agent stopped");
		await targetAgent.waitClosed();
		const record = await startMigration(vmId, target.hostId);
		expect(record).toMatchObject({
			state: "failed",
			failure: {
				stage: "validation",
				reason: "target-health/agent-connected failed: check is false: target.agentConnected",
			},
		});
		const rule = record.assessment.rules.find((one) => one.id === "target-agent-offline");
		expect(rule).toMatchObject({ score: 100, triggered: true });
		// Nothing was asked of any agent.
		expect(await unackedCommands(source.hostId)).toEqual([]);
	});

	it("dry-runs with the full assessment, storing and sending nothing", async () => {
		const { vmId, source, target } = await migrationSetup(crossSite);
		const response = await postMigration(vmId, target.hostId, true);
		expect(response.status).toBe(200);
		const record = (await response.json()) as MigrationRecord;
		expect(record).toMatchObject({ vmId, sourceHostId: source.hostId, state: "validating" });
		expect(record.validationSets.find((set) => set.id === "site-reachability")?.status).toBe(
			"pending",
		);
		expect(await migrationsOf(vmId)).toEqual([]);
		expect(await unackedCommands(source.hostId)).toEqual([]);
	});

	it("records the contract's shape with every rule's score and every set's status", async () => {
		const { vmId, source, target } = await migrationSetup(crossSite);
		const record = await startMigration(vmId, target.hostId);
		expect(Object.keys(record).sort()).toEqual(
			[
				"assessment",
				"createdAt",
				"migrationId",
				"progress",
				"sourceHostId",
				"state",
				"targetHostId",
				"updatedAt",
				"validationSets",
				"vmId",
			].sort(),
		);
		expect(record).toMatchObject({ sourceHostId: source.hostId, targetHostId: target.hostId });
		expect(record.progress).toEqual({ percent: 0 });
		for (const rule of record.assessment.rules) {
			expect(rule).toEqual(
				expect.objectContaining({
					id: expect.any(String),
					score: expect.any(Number),
					threshold: expect.any(Number),
					validationSet: expect.any(String),
					triggered: expect.any(Boolean),
				}),
			);
		}
		expect(await getMigration(record.migrationId)).toEqual(record);
	});

	it("runs no validation for a small VM between twin hosts and starts at once", async () => {
		const { vmId, source, target } = await migrationSetup();
		const agent = await agentFor(source);
		const record = await startMigration(vmId, target.hostId);
		expect(record.state).toBe("migrating");
		expect(record.validationSets.every((set) => set.status === "skipped")).toBe(true);
		expect(record.assessment.subtasksSkipped).toBe(record.assessment.subtasksTotal);
		const start = await agent.next("migration.start");
		expect(start).toMatchObject({
			migrationId: record.migrationId,
			vmId,
			targetHostId: target.hostId,
		});
	});

	it("sends only the triggered set's agent subtasks for a cross-site move", async () => {
		const { vmId, source, target } = await migrationSetup(crossSite);
		const agent = await agentFor(source);
		const record = await startMigration(vmId, target.hostId);
		const running = record.validationSets.filter((set) => set.status !== "skipped");
		expect(running.map((set) => set.id)).toEqual(["site-reachability"]);
		expect(running[0]?.reason).toMatch(/rule cross-site scored 80 ≥ threshold 50/);
		const subtasks = new Set<unknown>();
		for (let index = 0; index < 3; index++) {
			const command = await agent.next("validation.run");
			expect(command).toMatchObject({
				migrationId: record.migrationId,
				vmId,
				sourceHostId: source.hostId,
				targetHostId: target.hostId,
				validationSet: "site-reachability",
			});
			subtasks.add(command.subtask);
		}
		// `subtask` is the subtask's own id, its set beside it (API.md, "Host agent channel").
		expect(subtasks).toEqual(new Set(["storage-paths", "network-bandwidth", "vlan-presence"]));
	});

	it("fails at once, sending nothing, when a builtin check fails", async () => {
		const { vmId, source, target } = await migrationSetup({
			cpu: { model: "Intel Xeon 6338", flags: ["avx2"] },
		});
		const record = await startMigration(vmId, target.hostId);
		expect(record.state).toBe("failed");
		expect(record.failure).toEqual({
			stage: "validation",
			reason: expect.stringMatching(/^cpu-compatibility\/flags-superset failed/),
		});
		expect(await unackedCommands(source.hostId)).toEqual([]);
	});
});

describe("validation results", () => {
	it("starts the migration once every selected subtask passed", async () => {
		const { vmId, source, target } = await migrationSetup(crossSite);
		const agent = await agentFor(source);
		const record = await startMigration(vmId, target.hostId);
		for (let index = 0; index < 3; index++) {
			const run = await agent.next("validation.run");
			const data = { migrationId: record.migrationId, subtask: run.subtask, ok: true };
			expect((await sendWebhook(source, { type: "validation.result", data })).status).toBe(200);
		}
		await agent.next("migration.start");
		const after = await getMigration(record.migrationId);
		expect(after.state).toBe("migrating");
		expect(after.validationSets.find((set) => set.id === "site-reachability")?.status).toBe(
			"passed",
		);
	});

	it("fails the migration with the subtask's detail when one fails", async () => {
		const { vmId, source, target } = await migrationSetup(crossSite);
		const record = await startMigration(vmId, target.hostId);
		const data = {
			migrationId: record.migrationId,
			subtask: "site-reachability/storage-paths",
			ok: false,
			detail: "LUN 7 unreachable",
		};
		await sendWebhook(source, { type: "validation.result", data });
		const after = await getMigration(record.migrationId);
		expect(after.state).toBe("failed");
		expect(after.failure).toEqual({
			stage: "validation",
			reason: "site-reachability/storage-paths failed: LUN 7 unreachable",
		});
	});

	it("keeps progress from going backwards when an older report arrives late", async () => {
		const { vmId, source, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		await sendWebhook(source, {
			type: "migration.progress",
			data: { migrationId, percent: 40, phase: "precopy" },
		});
		const late = await sendWebhook(source, {
			type: "migration.progress",
			data: { migrationId, percent: 30, phase: "precopy" },
		});
		expect(await late.json()).toMatchObject({ received: true, applied: false });
		expect((await getMigration(migrationId)).progress).toEqual({ percent: 40, phase: "precopy" });
	});

	it("records progress and fails on migration.failed", async () => {
		const { vmId, source, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		const progress = { migrationId, percent: 40, phase: "precopy" };
		await sendWebhook(source, { type: "migration.progress", data: progress });
		expect((await getMigration(migrationId)).progress).toEqual({ percent: 40, phase: "precopy" });
		await sendWebhook(source, { type: "migration.failed", data: { migrationId, reason: "OOM" } });
		const after = await getMigration(migrationId);
		expect(after.state).toBe("failed");
		expect(after.failure).toEqual({ stage: "migration", reason: "OOM" });
	});
});

describe("history", () => {
	it("counts the VM's and the target's recent failures into the recent-failures rule", async () => {
		const { vmId, source, target } = await migrationSetup();
		for (let attempt = 0; attempt < 2; attempt++) {
			const { migrationId } = await startMigration(vmId, target.hostId);
			const data = { migrationId, reason: "link lost" };
			await sendWebhook(source, { type: "migration.failed", data });
		}
		const dryRun = (await (
			await postMigration(vmId, target.hostId, true)
		).json()) as MigrationRecord;
		const rule = dryRun.assessment.rules.find((outcome) => outcome.id === "recent-failures");
		// 25 × 2 target failures + 20 × 2 failures of this VM.
		expect(rule).toMatchObject({ score: 90, triggered: true });
		// The target's failures count for any VM moving onto it; this one has none of its own.
		const other = await enrolVm(source.hostId);
		const otherDryRun = (await (
			await postMigration(other.vmId, target.hostId, true)
		).json()) as MigrationRecord;
		expect(
			otherDryRun.assessment.rules.find((outcome) => outcome.id === "recent-failures"),
		).toMatchObject({ score: 50, triggered: true });
	});
});

describe("assessment leaves the source alone", () => {
	it("does not mark the VM as handing off on its source", async () => {
		const { vmId, source, target } = await migrationSetup();
		expect((await postMigration(vmId, target.hostId, true)).status).toBe(200);
		const handingOff = await runInDurableObject(
			serviceProcessorStub(source.hostId),
			(_instance, state) => state.storage.kv.get(`handoff:${vmId}`) !== undefined,
		);
		expect(handingOff).toBe(false);
	});
});

describe("reads and cancel", () => {
	it("answers vm_not_found for the migrations of a VM that never existed, storing nothing", async () => {
		await expectProblem(await admin("GET", "/v1/vms/vm-never-1/migrations"), 404, "vm_not_found");
		expect(await userTables(virtualMachineStub("vm-never-1"))).toEqual([]);
	});

	it("lists a VM's migrations newest first", async () => {
		const { vmId, target } = await migrationSetup();
		const first = await startMigration(vmId, target.hostId);
		await admin("POST", `/v1/migrations/${first.migrationId}/cancel`);
		const second = await startMigration(vmId, target.hostId);
		const list = await migrationsOf(vmId);
		expect(list.map((record) => record.migrationId)).toEqual([
			second.migrationId,
			first.migrationId,
		]);
	});

	it("reaches a migration by its id alone: the id names its VM, no index is asked", async () => {
		const { vmId, target, source } = await migrationSetup(crossSite);
		const { migrationId } = await startMigration(vmId, target.hostId);
		expect(migrationId.startsWith(`${vmId}~`)).toBe(true);
		// The Fleet singleton never hears of it: the migration's routes reach their VM directly.
		const indexed = await runInDurableObject(fleetStub(), (_instance, state) =>
			state.storage.sql
				.exec("SELECT 1 FROM migrations WHERE migration_id = ?", migrationId)
				.toArray(),
		);
		expect(indexed).toEqual([]);
		expect((await getMigration(migrationId)).migrationId).toBe(migrationId);
		const data = {
			migrationId,
			subtask: "storage-paths",
			validationSet: "site-reachability",
			ok: false,
		};
		expect((await sendWebhook(source, { type: "validation.result", data })).status).toBe(200);
		expect((await getMigration(migrationId)).state).toBe("failed");
	});

	it("answers not_found for an unknown migration id", async () => {
		await expectProblem(await admin("GET", "/v1/migrations/nope-1"), 404, "not_found");
		await expectProblem(await admin("POST", "/v1/migrations/nope-1/cancel"), 404, "not_found");
	});

	it("cancels a validating migration and tells the source agent", async () => {
		const { vmId, source, target } = await migrationSetup(crossSite);
		const agent = await agentFor(source);
		const { migrationId } = await startMigration(vmId, target.hostId);
		const response = await admin("POST", `/v1/migrations/${migrationId}/cancel`);
		expect(response.status).toBe(200);
		const record = (await response.json()) as MigrationRecord;
		expect(record.state).toBe("cancelled");
		expect(await agent.next("migration.cancel")).toMatchObject({ migrationId });
	});

	it("refuses to cancel a migration that ended, changing nothing", async () => {
		const { vmId, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		await admin("POST", `/v1/migrations/${migrationId}/cancel`);
		const before = await getMigration(migrationId);
		const again = await admin("POST", `/v1/migrations/${migrationId}/cancel`);
		await expectProblem(again, 409, "not_cancellable");
		expect(await getMigration(migrationId)).toEqual(before);
	});
});
