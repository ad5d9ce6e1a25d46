// Proves `edgevisor migrate` against the real Worker: the dry run's risk
// table (each rule's score against its threshold, sets triggered or skipped),
// its verdict and exit code, and full assessment with --json, nothing stored;
// a live migration driven by the simulated agents followed to its end (exit 0,
// the sets shown in their final states) or to a validation failure (exit 8,
// counting only the checks that ran); --no-wait saying the state the server
// answered; listing and showing migrations; the policy within 100 columns;
// migration problems as one line with their exit code.
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
	admin,
	createHost,
	enrolVm,
	type RecordedSimulator,
	type SeededHost,
	simulatedPair,
	uniqueId,
} from "./agent-sim-support";
import { linesOf, runCli } from "./cli-run";

const adminEnv = { EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") };

let source: SeededHost;
let target: SeededHost;
let vmId: string;

beforeAll(async () => {
	source = await createHost();
	target = await createHost(source.domain);
	({ vmId } = await enrolVm(source.hostId));
});

let simulator: RecordedSimulator | undefined;
afterEach(() => {
	simulator?.stop();
	simulator = undefined;
});

/** A simulated pair whose simulator this file stops after each test. */
async function liveFleet(behaviour: Record<string, unknown>, options?: { crossSite?: boolean }) {
	const pair = await simulatedPair(behaviour, options);
	simulator = pair.sim;
	return { to: pair.target, vmId: pair.vmId };
}

describe("edgevisor migrate", () => {
	it("follows a live migration to completed, with progress on stderr, and exits 0", async () => {
		const { to, vmId: movingVm } = await liveFleet({});
		const run = await runCli(["migrate", "--vm", movingVm, "--to", to.hostId], adminEnv);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toMatch(/^migration \S+ completed$/m);
		expect(run.stderr).toMatch(new RegExp(`^${movingVm}: migrating \\d+% pre-copy$`, "m"));
	});

	it("lists and shows a finished migration, which cannot be cancelled (exit 5)", async () => {
		const { to, vmId: movingVm } = await liveFleet({});
		const moved = await runCli(
			["--json", "migrate", "--vm", movingVm, "--to", to.hostId],
			adminEnv,
		);
		const { migrationId } = JSON.parse(moved.stdout) as { migrationId: string };
		const listed = await runCli(["migrations", "list", "--vm", movingVm], adminEnv);
		expect(listed.stdout).toMatch(new RegExp(`^${migrationId}\\s.*\\scompleted\\s+100%`, "m"));
		const shown = await runCli(["migrations", "show", migrationId], adminEnv);
		expect(shown.stdout).toMatch(/^state:\s+completed$/m);
		// Nested fields as indented lines, not JSON.
		expect(shown.stdout).toMatch(/^progress:\n {2}percent:\s+100\n/m);
		expect(shown.stdout).not.toContain("{");
		const cancelled = await runCli(["migrations", "cancel", migrationId], adminEnv);
		expect(cancelled.exitCode).toBe(5);
		expect(cancelled.stderr).toMatch(/^edgevisor: 409 not_cancellable: /);
	});

	it("exits 8 with the failure when an agent validation check fails", async () => {
		const { to, vmId: movingVm } = await liveFleet(
			{ validationFailureRate: 1 },
			{ crossSite: true },
		);
		const run = await runCli(["migrate", "--vm", movingVm, "--to", to.hostId], adminEnv);
		expect(run.exitCode).toBe(8);
		expect(run.stdout).toMatch(/^migration \S+ failed in validation: /m);
	});

	it("prints the final state of every set once the migration ended, none left running", async () => {
		const { to, vmId: movingVm } = await liveFleet({}, { crossSite: true });
		const run = await runCli(["migrate", "--vm", movingVm, "--to", to.hostId], adminEnv);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toMatch(/^site-reachability\s+passed\s+storage-paths:passed /m);
		expect(run.stdout).toMatch(/^validation: 3 of \d+ subtasks selected; 3 run \(3 passed\) /m);
		expect(run.stdout).not.toMatch(/running|pending/);
	});

	it("counts only the checks that ran when a builtin check fails the migration at once", async () => {
		const offline = await createHost(source.domain);
		const { vmId: movingVm } = await enrolVm(source.hostId);
		const run = await runCli(["migrate", "--vm", movingVm, "--to", offline.hostId], adminEnv);
		expect(run.exitCode).toBe(8);
		expect(run.stdout).toMatch(
			/^validation: 3 of \d+ subtasks selected; 1 run \(1 failed\); 2 not run: the migration failed first /m,
		);
		expect(run.stdout).toMatch(
			/^migration \S+ failed in validation: target-health\/agent-connected /m,
		);
	});

	it("--no-wait says a migration accepted and validating, and exits 0", async () => {
		const { to, vmId: movingVm } = await liveFleet({}, { crossSite: true });
		const run = await runCli(
			["migrate", "--vm", movingVm, "--to", to.hostId, "--no-wait"],
			adminEnv,
		);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toMatch(
			/^migration (\S+) accepted, now validating; follow it with: edgevisor migrations watch \1$/m,
		);
	});

	it("--no-wait prints the failure and exits 8 when validation failed at once", async () => {
		const offline = await createHost(source.domain);
		const { vmId: movingVm } = await enrolVm(source.hostId);
		const run = await runCli(
			["migrate", "--vm", movingVm, "--to", offline.hostId, "--no-wait"],
			adminEnv,
		);
		expect(run.exitCode).toBe(8);
		expect(run.stdout).toMatch(
			/^migration \S+ failed in validation: target-health\/agent-connected /m,
		);
		expect(run.stdout).not.toContain("accepted");
	});

	it("prints the risk table of a dry run with the verdict that it would be refused, and exits 8", async () => {
		const run = await runCli(
			["migrate", "--vm", vmId, "--to", target.hostId, "--dry-run"],
			adminEnv,
		);
		expect(run.exitCode).toBe(8);
		expect(run.stdout).toContain(`dry run: ${vmId} ${source.hostId} → ${target.hostId}`);
		expect(run.stdout).toMatch(/RULE\s+SCORE\s+THRESHOLD\s+VALIDATION SET\s+TRIGGERED/);
		expect(run.stdout).toMatch(/VALIDATION SET\s+STATUS\s+SUBTASKS/);
		expect(linesOf(run.stdout).at(-1)).toBe(
			"verdict: would be refused: validation would fail on target-health/agent-connected (check is false: target.agentConnected); sets that would run: target-health",
		);
	});

	it("prints the verdict that a dry run would start, naming the sets that would run, and exits 0", async () => {
		const { to, vmId: movingVm } = await liveFleet({}, { crossSite: true });
		const run = await runCli(
			["migrate", "--vm", movingVm, "--to", to.hostId, "--dry-run"],
			adminEnv,
		);
		expect(run.exitCode).toBe(0);
		expect(linesOf(run.stdout).at(-1)).toBe(
			"verdict: would start: sets that would run: site-reachability; 3 agent checks on the hosts would decide",
		);
	});

	it("prints the whole assessment with --json, exits as the verdict says and stores nothing", async () => {
		const run = await runCli(
			["--json", "migrate", "--vm", vmId, "--to", target.hostId, "--dry-run"],
			adminEnv,
		);
		expect(run.exitCode).toBe(8);
		const migration = JSON.parse(run.stdout) as { assessment: { rules: unknown[] } };
		expect(migration.assessment.rules.length).toBeGreaterThanOrEqual(6);
		const { body } = await admin<{ migrations: unknown[] }>("GET", `/v1/vms/${vmId}/migrations`);
		expect(body.migrations).toEqual([]);
	});

	it("prints the policy within 100 columns, long CEL expressions wrapped", async () => {
		const run = await runCli(["policy", "show"], adminEnv);
		expect(run.exitCode).toBe(0);
		const lines = linesOf(run.stdout);
		expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(100);
		// A short expression whole, a long one wrapped onto further lines (not cut off).
		expect(run.stdout).toContain("source.site != target.site ? 80 : 0");
		expect(run.stdout).toMatch(/^recent-failures .*\n {20,}history\.failures \* 20\.0$/m);
	});

	it("prints same_host as one line and exits 5 when the target is the VM's host", async () => {
		const run = await runCli(["migrate", "--vm", vmId, "--to", source.hostId], adminEnv);
		expect(run.exitCode).toBe(5);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: 422 same_host: /);
	});

	it("prints vm_not_found as one line and exits 4 for an unknown VM", async () => {
		const run = await runCli(
			["migrate", "--vm", uniqueId("absent"), "--to", target.hostId],
			adminEnv,
		);
		expect(run.exitCode).toBe(4);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: 404 vm_not_found: /);
	});
});
