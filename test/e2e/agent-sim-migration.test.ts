// Proves the simulated agents drive real migrations on the Worker: signed
// validation.result webhooks decide agent subtasks (pass and fail),
// migration.start yields pre-copy progress then completion (the SP-table row
// moves), and migration.cancel stops the copy. Consoles and redelivery are in
// agent-sim.test.ts.

import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { describeEvent } from "../../agent/simulator.mjs";
import { pollUntil } from "../support/poll";
import { admin, isWebhook, type RecordedSimulator, simulatedPair } from "./agent-sim-support";

type Migration = {
	migrationId: string;
	state: string;
	failure?: { stage: string; reason: string };
	progress: { percent: number };
	validationSets: Array<{ id: string; status: string }>;
};

let running: RecordedSimulator | undefined;
afterEach(() => {
	running?.stop();
	running = undefined;
});

/** A simulated pair whose simulator this file stops after each test. */
async function fleetOfTwo(behaviour: Record<string, unknown>, options?: { crossSite?: boolean }) {
	const pair = await simulatedPair(behaviour, options);
	running = pair.sim;
	return pair;
}

async function startMigration(vmId: string, targetHostId: string): Promise<Migration> {
	const { status, body } = await admin<Migration>("POST", "/v1/migrations", { vmId, targetHostId });
	if (status !== 201)
		throw new Error(`POST /v1/migrations answered ${status}: ${JSON.stringify(body)}`);
	return body;
}

const migrationRecord = async (migrationId: string) =>
	(await admin<Migration>("GET", `/v1/migrations/${migrationId}`)).body;

describe("simulated agents and migrations", () => {
	it("reports pre-copy progress and completion, and the VM's row moves to the target", async () => {
		const { sim, target, vmId } = await fleetOfTwo({});
		const { migrationId } = await startMigration(vmId, target.hostId);
		const completed = await sim.waitFor((event) =>
			isWebhook(event, "migration.completed", migrationId),
		);
		expect(completed.delivery).toMatchObject({ ok: true, status: 200 });
		const progress = sim.events.filter((event) =>
			isWebhook(event, "migration.progress", migrationId),
		);
		const phases = progress.map(
			(event) => (event.delivery as { data: { phase: string } }).data.phase,
		);
		expect(phases).toContain("pre-copy");
		expect(phases.at(-1)).toBe("stop-and-copy");
		expect(await migrationRecord(migrationId)).toMatchObject({ state: "completed" });
		const { body } = await admin<{ vms: Array<{ vmId: string }> }>(
			"GET",
			`/v1/hosts/${target.hostId}/vms`,
		);
		expect(body.vms.map((vm) => vm.vmId)).toContain(vmId);
	});

	it("passes a triggered validation set with signed validation.result webhooks", async () => {
		const { sim, target, vmId } = await fleetOfTwo({}, { crossSite: true });
		const { migrationId } = await startMigration(vmId, target.hostId);
		await sim.waitFor((event) => isWebhook(event, "migration.completed", migrationId));
		const results = sim.events.filter((event) =>
			isWebhook(event, "validation.result", migrationId),
		);
		expect(results.length).toBeGreaterThan(0);
		expect(results.map((event) => (event.delivery as { status: number }).status)).toEqual(
			results.map(() => 200),
		);
		const record = await migrationRecord(migrationId);
		expect(record.validationSets.find((set) => set.id === "site-reachability")?.status).toBe(
			"passed",
		);
		// The agent's log reads in the order things happened: every validation.result
		// it sent comes before the migration.start the last one led to.
		const lines = sim.events.map((event) => describeEvent(event) ?? "");
		const lastResult = lines.findLastIndex((line) => line.includes("→ validation.result"));
		const start = lines.findIndex((line) => line.includes("← migration.start"));
		expect(lastResult).toBeGreaterThanOrEqual(0);
		expect(start).toBeGreaterThan(lastResult);
	});

	it("fails the migration in validation when the agent's check fails", async () => {
		const { sim, target, vmId } = await fleetOfTwo(
			{ validationFailureRate: 1 },
			{ crossSite: true },
		);
		const { migrationId } = await startMigration(vmId, target.hostId);
		await sim.waitFor((event) => isWebhook(event, "validation.result", migrationId));
		const record = await waitForState(migrationId, "failed");
		expect(record.failure?.stage).toBe("validation");
		expect(
			sim.events.some(
				(event) =>
					event.type === "command" &&
					(event.command as { type: string }).type === "migration.start",
			),
		).toBe(false);
	});

	it("stops copying when the migration is cancelled", async () => {
		const { sim, target, vmId } = await fleetOfTwo({ migrationTimeScale: 1 });
		const { migrationId } = await startMigration(vmId, target.hostId);
		await sim.waitFor((event) => isWebhook(event, "migration.progress", migrationId));
		const { status } = await admin("POST", `/v1/migrations/${migrationId}/cancel`);
		expect(status).toBe(200);
		await sim.waitFor(
			(event) => event.type === "migration.cancelled" && event.migrationId === migrationId,
		);
		expect(sim.events.some((event) => isWebhook(event, "migration.completed", migrationId))).toBe(
			false,
		);
		// The simulator reports the stop, so the record knows the VM stayed on the source.
		expect(await migrationRecord(migrationId)).toMatchObject({
			state: "cancelled",
			cancellation: { outcome: "stopped" },
		});
	});
});

/** Polls the record until it reaches `state` (the simulator has no event for server-side decisions). */
function waitForState(migrationId: string, state: string, timeoutMs = 15_000): Promise<Migration> {
	return pollUntil(
		() => migrationRecord(migrationId),
		(record) => record.state === state,
		{ timeoutMs, what: `migration ${state}`, intervalMs: 100 },
	);
}
