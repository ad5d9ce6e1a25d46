// Proves `edgevisor connect` end to end through a real pseudo-terminal
// (`script`): the broadcast request reaches the simulated host agent, the
// user types into the VM's console and reads its answer, Ctrl-] leaves with
// exit 0 and the close reason. Failures of connect are in cli.test.ts.
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
	createHost,
	enrolVm,
	type RecordedSimulator,
	type SeededHost,
	simulate,
	uniqueId,
} from "./agent-sim-support";

const adminEnv = { EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") };

let host: SeededHost;
let simulator: RecordedSimulator;
let workDir: string;

beforeAll(async () => {
	host = await createHost();
	simulator = simulate([host]);
	await simulator.waitFor((event) => event.type === "connected");
	workDir = await mkdtemp(join(tmpdir(), "edgevisor-connect-"));
});
afterAll(() => simulator?.stop());

/** Writes a VM's key to a key file and returns its path. */
async function keyFileFor(key: string): Promise<string> {
	const path = join(workDir, `${uniqueId("key")}.key`);
	await writeFile(path, `${key}\n`, { mode: 0o600 });
	return path;
}

/** Runs the CLI under `script`, so its stdin is a real terminal; exposes output (CRs removed when matching) and typing. */
function runInPty(args: string[]) {
	const quoted = [process.execPath, join(import.meta.dirname, "../../cli/edgevisor.mjs"), ...args]
		.map((word) => `'${word.replaceAll("'", "'\\''")}'`)
		.join(" ");
	const child = spawn("script", ["-qfec", quoted, "/dev/null"], {
		env: { ...process.env, ...adminEnv },
		stdio: ["pipe", "pipe", "pipe"],
	});
	let output = "";
	child.stdout.on("data", (chunk) => {
		output += chunk.toString();
	});
	const exited = new Promise<number>((resolve) =>
		child.once("exit", (code) => resolve(code ?? -1)),
	);
	return {
		exited,
		output: () => output,
		type: (text: string) => child.stdin.write(text),
		waitForOutput(text: string, timeoutMs = 15_000): Promise<void> {
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => {
					child.stdout.off("data", check);
					reject(new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(output)}`));
				}, timeoutMs);
				// The pty turns the VM's CRLF into CR CR LF (ONLCR), so compare without CRs.
				const check = () => {
					if (!output.replaceAll("\r", "").includes(text)) return;
					clearTimeout(timer);
					child.stdout.off("data", check);
					resolve();
				};
				child.stdout.on("data", check);
				check();
			});
		},
	};
}

describe("edgevisor connect in a terminal", () => {
	it("connects through a terminal, runs hostname on the VM and leaves on Ctrl-]", async () => {
		const { vmId, key } = await enrolVm(host.hostId);
		const terminal = runInPty([
			"connect",
			"--domain",
			host.domain,
			"--vm",
			vmId,
			"--key-file",
			await keyFileFor(key),
		]);
		await terminal.waitForOutput(`root@${vmId}:~# `);
		terminal.type("hostname\r");
		await terminal.waitForOutput(`hostname\n${vmId}\n`);
		terminal.type("\u001d");
		expect(await terminal.exited).toBe(0);
		expect(terminal.output()).toContain("[session closed:");
	});
});
