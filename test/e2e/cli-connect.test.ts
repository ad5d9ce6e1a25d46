// Proves `edgevisor connect` end to end through a real pseudo-terminal
// (`script`): the broadcast request reaches the simulated host agent, the
// user types into the VM's console and reads its answer, Ctrl-] leaves with
// exit 0 and the close reason; an admin's terminate ends the console with its
// reason; piped input runs on the VM too; a live migration of the VM leaves
// the console open, with one line of the CLI's own saying the VM moved; the
// terminal's size reaches the session's recording, and `sessions watch` in a
// terminal of another size says the console's. Failures of connect are in cli.test.ts.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { recordedSize } from "../support/recorded-size";
import {
	admin,
	createHost,
	enrolVm,
	hostFacts,
	isWebhook,
	type RecordedSimulator,
	type SeededHost,
	simulate,
	uniqueId,
} from "./agent-sim-support";
import { cliCommandLine, runCli, runInTerminal } from "./cli-run";

const adminEnv = { EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") };
const adminTarget = { baseUrl: inject("baseUrl"), adminToken: inject("adminToken") };

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

/** Runs the CLI in a real terminal (`script`), as the admin. */
const runInPty = (args: string[]) => runInTerminal(cliCommandLine(args), adminEnv);

/** Enrols a VM, connects to it in a terminal and waits for its shell prompt. */
async function connectToNewVm() {
	const { vmId, key } = await enrolVm(host.hostId);
	const keyFile = await keyFileFor(key);
	const terminal = runInPty([
		"connect",
		"--domain",
		host.domain,
		"--vm",
		vmId,
		"--key-file",
		keyFile,
	]);
	await terminal.waitForOutput(`root@${vmId}:~# `);
	return { vmId, terminal };
}

describe("edgevisor connect in a terminal", () => {
	it("connects through a terminal, runs hostname on the VM and leaves on Ctrl-]", async () => {
		const { vmId, terminal } = await connectToNewVm();
		terminal.type("hostname\r");
		await terminal.waitForOutput(`hostname\n${vmId}\n`);
		terminal.type("\u001d");
		expect(await terminal.exited).toBe(0);
		expect(terminal.output()).toContain("[session closed:");
	});

	it("ends with exit 0 when the guest logs out", async () => {
		const { terminal } = await connectToNewVm();
		terminal.type("exit\r");
		expect(await terminal.exited).toBe(0);
		expect(terminal.output()).toContain("logout");
	});

	it("closes the console with reason terminated and exit 8 when an admin terminates it", async () => {
		const { vmId, terminal } = await connectToNewVm();
		const listed = await runCli(["--json", "sessions", "list", "--host", host.hostId], adminEnv);
		const { sessions } = JSON.parse(listed.stdout) as {
			sessions: Array<{ sessionId: string; vmId: string; state: string }>;
		};
		const session = sessions.find((candidate) => candidate.vmId === vmId);
		expect(session?.state).toBe("established");
		const terminated = await runCli(["sessions", "terminate", session?.sessionId ?? ""], adminEnv);
		expect(terminated.exitCode).toBe(0);
		expect(await terminal.exited).toBe(8);
		expect(terminal.output()).toContain("[session closed: terminated]");
	});

	it("goes on across a live migration of the VM, saying so in one line of its own", async () => {
		const source = await createHost();
		const target = await createHost(source.domain);
		const facts = { ...hostFacts, memoryFreeMiB: 200_000 };
		const pair = simulate(
			[source, target].map((one) => ({ ...one, facts })),
			{ validationLatencyMs: [0, 20], migrationTimeScale: 0.01 },
		);
		try {
			await Promise.all(
				[source, target].map((one) =>
					pair.waitFor((event) => isWebhook(event, "host.facts") && event.hostId === one.hostId),
				),
			);
			const { vmId, key } = await enrolVm(source.hostId);
			const terminal = runInPty([
				"connect",
				"--domain",
				source.domain,
				"--vm",
				vmId,
				"--key-file",
				await keyFileFor(key),
			]);
			await terminal.waitForOutput(`root@${vmId}:~# `);
			terminal.type("GREETING=set-on-the-source\r");
			const migrated = await admin<{ state: string }>("POST", "/v1/migrations", {
				vmId,
				targetHostId: target.hostId,
			});
			expect(migrated.body.state).toBe("migrating");
			await terminal.waitForOutput(`[the VM moved to host ${target.hostId}; the session goes on]`);
			terminal.type("echo $GREETING\r");
			await terminal.waitForOutput("echo $GREETING\nset-on-the-source\n");
			terminal.type("\u001d");
			expect(await terminal.exited).toBe(0);
		} finally {
			pair.stop();
		}
	});

	it("tells the server its terminal's size, and a watcher in a terminal of another size is told the console's", async () => {
		const { vmId, key } = await enrolVm(host.hostId);
		const keyFile = await keyFileFor(key);
		const connect = ["connect", "--domain", host.domain, "--vm", vmId, "--key-file", keyFile];
		const terminal = runInTerminal(`stty cols 132 rows 43; ${cliCommandLine(connect)}`, adminEnv);
		await terminal.waitForOutput(`root@${vmId}:~# `);
		const sessionId = terminal.output().match(/\(session (\S+)\)/)?.[1] ?? "";
		await expect
			.poll(() => recordedSize(adminTarget, sessionId), { timeout: 15_000 })
			.toEqual({ cols: 132, rows: 43 });
		const watch = cliCommandLine(["sessions", "watch", sessionId]);
		const watcher = runInTerminal(`stty cols 100 rows 30; ${watch}`, adminEnv);
		await watcher.waitForOutput("[the console is 132×43; this terminal is 100×30]");
		watcher.type("\u001d");
		expect(await watcher.exited).toBe(0);
		terminal.type("\u001d");
		expect(await terminal.exited).toBe(0);
	});

	it("runs piped commands on the VM and leaves once the console goes quiet", async () => {
		const { vmId, key } = await enrolVm(host.hostId);
		const keyFile = await keyFileFor(key);
		const run = await runCli(
			["connect", "--domain", host.domain, "--vm", vmId, "--key-file", keyFile],
			adminEnv,
			"uname -a\n",
		);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toContain(`Linux ${vmId} 6.12`);
	});
});
