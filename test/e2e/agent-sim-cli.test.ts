// Proves the `edgevisor-agent` command: it reads a fleet file, opens each
// host's control channel against the Worker and logs it, stops cleanly on
// SIGTERM, and rejects a malformed fleet file with exit 2. The protocol
// itself is in agent-sim.test.ts.
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createHost } from "./agent-sim-support";

const agentPath = join(import.meta.dirname, "../../agent/edgevisor-agent.mjs");

/** Starts the agent command; resolves its output once `text` appears (15 s limit). */
function startAgent(args: string[]) {
	const child = spawn(process.execPath, [agentPath, ...args], {
		stdio: ["ignore", "pipe", "pipe"],
	});
	let output = "";
	const append = (chunk: Buffer) => {
		output += chunk.toString();
	};
	child.stdout.on("data", append);
	child.stderr.on("data", append);
	const exited = new Promise<number>((resolve) =>
		child.once("exit", (code) => resolve(code ?? -1)),
	);
	const waitFor = (text: string) =>
		new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no "${text}" in: ${output}`)), 15_000);
			const check = () => {
				if (!output.includes(text)) return;
				clearTimeout(timer);
				child.stdout.off("data", check);
				resolve();
			};
			child.stdout.on("data", check);
			check();
		});
	return { child, exited, waitFor, output: () => output };
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
		await agent.waitFor(`[${first.hostId}] control channel open`);
		await agent.waitFor(`[${second.hostId}] control channel open`);
		agent.child.kill("SIGTERM");
		expect(await agent.exited).toBe(0);
	});

	it("exits 2 with one line for a fleet file without hosts", async () => {
		const path = await fleetFile({ machines: [] });
		const agent = startAgent(["--hosts-file", path]);
		expect(await agent.exited).toBe(2);
		expect(agent.output()).toBe(`edgevisor-agent: ${path}: expected {"hosts": [...]}\n`);
	});
});
