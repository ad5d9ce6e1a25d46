// Proves `edgevisor migrate --dry-run` against the real Worker: the risk table
// (each rule's score against its threshold, sets triggered or skipped) for
// people and the full assessment with --json, nothing stored, and the
// migration problems as one line with their exit code. Live migrations with
// the simulated agents are not covered here.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { admin, createHost, enrolVm, type SeededHost, uniqueId } from "./agent-sim-support";
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

describe("edgevisor migrate", () => {
	it("prints the risk table of a dry run and exits 0", async () => {
		const run = await runCli(
			["migrate", "--vm", vmId, "--to", target.hostId, "--dry-run"],
			adminEnv,
		);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toContain(`dry run: ${vmId} ${source.hostId} → ${target.hostId}`);
		expect(run.stdout).toMatch(/RULE\s+SCORE\s+THRESHOLD\s+VALIDATION SET\s+TRIGGERED/);
		expect(run.stdout).toMatch(/VALIDATION SET\s+STATUS\s+SUBTASKS/);
	});

	it("prints the whole assessment with --json and stores nothing", async () => {
		const run = await runCli(
			["--json", "migrate", "--vm", vmId, "--to", target.hostId, "--dry-run"],
			adminEnv,
		);
		expect(run.exitCode).toBe(0);
		const migration = JSON.parse(run.stdout) as { assessment: { rules: unknown[] } };
		expect(migration.assessment.rules.length).toBeGreaterThanOrEqual(6);
		const { body } = await admin<{ migrations: unknown[] }>("GET", `/v1/vms/${vmId}/migrations`);
		expect(body.migrations).toEqual([]);
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
