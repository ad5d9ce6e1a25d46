// Proves how the CLI's fleet commands read for people, against the real
// Worker: hosts and VMs listed by name (the API lists them newest first),
// memory in binary units with --json keeping the API's exact MiB, and a host
// shown with its nested fields as indented lines rather than JSON. Secrets,
// --json and failures are in cli.test.ts.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { admin, enrolVm, hostFacts, uniqueId } from "./agent-sim-support";
import { linesOf, runCli } from "./cli-run";

const adminEnv = { EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") };

/** Host ids created out of name order; numbers in names sort as numbers. */
let domain: string;
let hostIds: { db: string; web9: string; web10: string };

beforeAll(async () => {
	domain = uniqueId("cli-fleet");
	const prefix = uniqueId("h");
	hostIds = { web10: `${prefix}-web-10`, web9: `${prefix}-web-9`, db: `${prefix}-db` };
	for (const hostId of [hostIds.web10, hostIds.web9, hostIds.db]) {
		const { status } = await admin("PUT", `/v1/hosts/${hostId}`, {
			domain,
			site: "fra1",
			...hostFacts,
		});
		if (status !== 201) throw new Error(`PUT host answered ${status}`);
	}
});

/** The first column of a table's rows, heading left out. */
const firstColumn = (stdout: string) =>
	linesOf(stdout)
		.slice(1)
		.map((line) => line.split(/\s+/)[0]);

describe("edgevisor fleet commands for people", () => {
	it("lists a domain's hosts by name, with their memory in GiB", async () => {
		const run = await runCli(["hosts", "list", "--domain", domain], adminEnv);
		expect(run.exitCode).toBe(0);
		expect(firstColumn(run.stdout)).toEqual([hostIds.db, hostIds.web9, hostIds.web10]);
		expect(linesOf(run.stdout)[0]).toMatch(/\sMEMORY\s/);
		expect(linesOf(run.stdout)[1]).toMatch(/\s256 GiB\s/);
	});

	it("lists a host's VMs by name, with their memory in GiB", async () => {
		const prefix = uniqueId("vm");
		for (const name of ["b", "a", "c"]) await enrolVm(hostIds.db, `${prefix}-${name}`);
		const run = await runCli(["vms", "list", "--host", hostIds.db], adminEnv);
		expect(run.exitCode).toBe(0);
		expect(firstColumn(run.stdout)).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
		expect(linesOf(run.stdout)[1]).toMatch(/\s4 GiB\s/);
	});

	it("shows a host's nested fields as indented lines, memory in GiB", async () => {
		const run = await runCli(["hosts", "show", hostIds.web9], adminEnv);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toMatch(
			/^cpu:\n {2}model:\s+Intel Xeon Gold 6338 \(Ice Lake\)\n {2}flags:\s+avx2, avx512f\n/m,
		);
		expect(run.stdout).toMatch(/^hypervisor:\n {2}name:\s+qemu-kvm\n {2}version:\s+9\.2\.0\n/m);
		expect(run.stdout).toMatch(/^memory:\s+256 GiB$/m);
		expect(run.stdout).not.toContain("{");
	});

	it("keeps the API's exact memoryMiB with --json", async () => {
		const run = await runCli(["--json", "hosts", "show", hostIds.web9], adminEnv);
		expect(JSON.parse(run.stdout)).toMatchObject({ memoryMiB: hostFacts.memoryMiB });
	});
});
