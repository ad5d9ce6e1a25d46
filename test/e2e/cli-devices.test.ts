// Proves the CLI's device commands against the real Worker: registering an
// SR-IOV device, creating a VF for a VM, reading the translation table with
// each entry's VM, translating an address, transferring the function to
// another host's device (and the translation following it), and device
// problems as one line.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createHost, enrolVm, type SeededHost, uniqueId } from "./agent-sim-support";
import { linesOf, runCli } from "./cli-run";

const adminEnv = { EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") };
const bdf = "0000:3b:00.0";
const virtualAddress = "0x7f0000000000";

let source: SeededHost;
let target: SeededHost;
let vmId: string;

/** Registers an Intel E810-like device through the CLI. */
function putDevice(hostId: string, vfBarBase: string) {
	return runCli(
		[
			...["devices", "put", "--host", hostId, "--bdf", bdf, "--vendor-id", "0x8086"],
			...["--device-id", "0x1593", "--total-vfs", "8", "--first-vf-offset", "16"],
			...["--vf-stride", "1", "--vf-bar-base", vfBarBase, "--vf-bar-size", "0x20000"],
		],
		adminEnv,
	);
}

/** Runs a CLI command with --json and parses its output. */
async function json<T>(args: string[]): Promise<T> {
	const run = await runCli(["--json", ...args], adminEnv);
	if (run.exitCode !== 0) throw new Error(`edgevisor ${args.join(" ")}: ${run.stderr}`);
	return JSON.parse(run.stdout) as T;
}

beforeAll(async () => {
	source = await createHost();
	target = await createHost(source.domain);
	({ vmId } = await enrolVm(source.hostId));
	for (const [host, base] of [
		[source, "0x38000000000"],
		[target, "0x39000000000"],
	] as const) {
		const run = await putDevice(host.hostId, base);
		if (run.exitCode !== 0) throw new Error(run.stderr);
	}
});

describe("edgevisor devices and transfer", () => {
	it("creates a VF at the lowest free index and shows it with its VM in the translation table", async () => {
		const created = await json<{ vfIndex: number; baseAddress: string }>([
			...["devices", "create-vf", "--host", source.hostId, "--bdf", bdf],
			...["--vm", vmId, "--virtual-address", virtualAddress],
		]);
		expect(created).toMatchObject({ vfIndex: 0, baseAddress: "0x38000000000" });
		const table = await runCli(
			["devices", "table", "--host", source.hostId, "--bdf", bdf],
			adminEnv,
		);
		expect(table.exitCode).toBe(0);
		expect(table.stdout).toMatch(
			new RegExp(`${virtualAddress}\\s+0x20000\\s+${vmId}\\s+${source.hostId}/${bdf}#0`),
		);
	});

	it("transfers the VF to another host's device and translation follows it", async () => {
		const run = await runCli(
			[
				...["transfer", "--host", source.hostId, "--bdf", bdf, "--vf", "0"],
				...["--to-host", target.hostId, "--to-bdf", bdf],
			],
			adminEnv,
		);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toMatch(/^transfer \S+ completed: /);
		const translation = await json<{ hostId: string; physicalAddress: string }>([
			...[
				"devices",
				"translate",
				"--host",
				source.hostId,
				"--bdf",
				bdf,
				"--address",
				virtualAddress,
			],
		]);
		expect(translation).toMatchObject({ hostId: target.hostId, physicalAddress: "0x39000000000" });
	});

	it("prints device_not_found as one line and exits 4 for an unknown device", async () => {
		const run = await runCli(
			["devices", "table", "--host", uniqueId("absent"), "--bdf", bdf],
			adminEnv,
		);
		expect(run.exitCode).toBe(4);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: 404 device_not_found: /);
	});

	it("rejects a malformed address before sending anything, exit 2", async () => {
		const run = await runCli(
			["devices", "translate", "--host", source.hostId, "--bdf", bdf, "--address", "12345"],
			adminEnv,
		);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain('expected a hex address like "0x7f0000000000"');
	});
});
