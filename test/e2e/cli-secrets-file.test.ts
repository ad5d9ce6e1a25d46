// Proves that the secrets file `edgevisor hosts put --secrets-file` writes is
// what the host agents read: the simulator (`edgevisor-agent --hosts-file`)
// takes it as a one-host fleet and opens that host's control channel, and
// both agents refuse it once others can read it. The fleet-file form is in
// agent-sim-cli.test.ts; the QEMU agent's own start in agent-qemu*.test.ts.
import { chmod, mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { uniqueId } from "./agent-sim-support";
import { runCli, startProcess } from "./cli-run";

const baseUrl = inject("baseUrl");
const adminEnv = { EDGEVISOR_URL: baseUrl, EDGEVISOR_TOKEN: inject("adminToken") };
const agentPath = join(import.meta.dirname, "../../agent/edgevisor-agent.mjs");

let workDir: string;
beforeAll(async () => {
	workDir = await mkdtemp(join(tmpdir(), "edgevisor-secrets-"));
});

/** Creates a host with the CLI, its secrets written to a file; returns the host id and the file. */
async function hostWithSecretsFile() {
	const hostId = uniqueId("cli-h");
	const secretsFile = join(workDir, `${hostId}.json`);
	const run = await runCli(
		[
			...["hosts", "put", hostId, "--domain", uniqueId("cli-d"), "--site", "fra1"],
			...["--cpu-model", "Xeon", "--memory-mib", "65536", "--hypervisor", "qemu-kvm@9.2.0"],
			...["--secrets-file", secretsFile],
		],
		adminEnv,
	);
	if (run.exitCode !== 0) throw new Error(`hosts put: ${run.stderr}`);
	return { hostId, secretsFile };
}

/** Runs `edgevisor-agent …args` until it exits; resolves its exit code and output. */
async function runAgent(args: string[]) {
	const agent = startProcess(process.execPath, [agentPath, ...args]);
	return { exitCode: await agent.exited, output: agent.output() };
}

describe("the secrets file of hosts put --secrets-file", () => {
	it("starts the simulated agent of that host, which opens its control channel", async () => {
		const { hostId, secretsFile } = await hostWithSecretsFile();
		expect((await stat(secretsFile)).mode & 0o777).toBe(0o600);
		const agent = startProcess(process.execPath, [
			...[agentPath, "--url", baseUrl, "--hosts-file", secretsFile],
		]);
		try {
			await agent.waitForOutput(`[${hostId}] control channel open`);
			const shown = await runCli(["--json", "hosts", "show", hostId], adminEnv);
			expect(JSON.parse(shown.stdout)).toMatchObject({ hostId, agentConnected: true });
		} finally {
			agent.kill("SIGTERM");
		}
		expect(await agent.exited).toBe(0);
	});

	it("is refused by the simulator and by the QEMU agent once others can read it", async () => {
		const { secretsFile } = await hostWithSecretsFile();
		await chmod(secretsFile, 0o644);
		const refusal = /^edgevisor-agent: .*readable by others \(mode 644\).*chmod 600/;
		const simulated = await runAgent(["--url", baseUrl, "--hosts-file", secretsFile]);
		expect(simulated.exitCode).toBe(2);
		expect(simulated.output).toMatch(refusal);
		const qemu = await runAgent([
			...["qemu", "--url", baseUrl, "--host-file", secretsFile],
			...["--vms-dir", join(workDir, "vms")],
		]);
		expect(qemu.exitCode).toBe(2);
		expect(qemu.output).toMatch(refusal);
	});
});
