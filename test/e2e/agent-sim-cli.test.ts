// Proves the `edgevisor-agent` command: it reads a fleet file, opens each
// host's control channel against the Worker and logs it, stops cleanly on
// SIGTERM, and rejects a malformed fleet file with exit 2. The protocol
// itself is in agent-sim.test.ts.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createHost } from "./agent-sim-support";
import { startProcess } from "./cli-run";

const agentPath = join(import.meta.dirname, "../../agent/edgevisor-agent.mjs");

/** Starts the agent command, watching what it prints. */
function startAgent(args: string[]) {
	return startProcess(process.execPath, [agentPath, ...args]);
}

async function fleetFile(content: unknown): Promise<string> {
	const path = join(await mkdtemp(join(tmpdir(), "edgevisor-agent-")), "fleet.json");
	await writeFile(path, JSON.stringify(content), { mode: 0o600 });
	return path;
}

describe("edgevisor-agent", () => {
	it("opens the control channel of every host in the fleet file and stops on SIGTERM", async () => {
		const first = await createHost();
		const second = await createHost(first.domain);
		const agent = startAgent([
			"--url",
			inject("baseUrl"),
			"--hosts-file",
			await fleetFile({ hosts: [first, second] }),
		]);
		await agent.waitForOutput(`[${first.hostId}] control channel open`);
		await agent.waitForOutput(`[${second.hostId}] control channel open`);
		agent.kill("SIGTERM");
		expect(await agent.exited).toBe(0);
	});

	it("exits 2 with one line for a fleet file without hosts", async () => {
		const path = await fleetFile({ machines: [] });
		const agent = startAgent(["--hosts-file", path]);
		expect(await agent.exited).toBe(2);
		expect(agent.output()).toBe(`edgevisor-agent: ${path}: expected {"hosts": [...]}\n`);
	});
});
