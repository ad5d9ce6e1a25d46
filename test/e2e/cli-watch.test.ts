// Proves `edgevisor sessions watch` in a real terminal (`script`): the viewer
// is read-only, so what the user types while watching is read and dropped
// (not echoed, and not left for the shell that runs next), Ctrl-C and Ctrl-]
// leave with exit 0, and the terminal's settings are as they were. Watching
// with piped stdin until SIGINT is in recordings.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
	createHost,
	enrolVm,
	type RecordedSimulator,
	requestSession,
	type SeededHost,
	simulate,
} from "./agent-sim-support";
import { cliCommandLine, type LiveProcess, runInTerminal } from "./cli-run";

const adminEnv = { EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") };

let host: SeededHost;
let simulator: RecordedSimulator;

beforeAll(async () => {
	host = await createHost();
	simulator = simulate([host]);
	await simulator.waitFor((event) => event.type === "connected");
});
afterAll(() => simulator?.stop());

/** Terminals of this file's tests; one a failed test left behind is killed with its shell. */
const terminals: LiveProcess[] = [];
afterEach(() => {
	for (const terminal of terminals.splice(0)) terminal.kill("SIGKILL");
});

/** A live console session of a new VM; its id. */
async function openSession(): Promise<string> {
	const { vmId, key } = await enrolVm(host.hostId);
	const { status, body } = await requestSession(host.domain, vmId, key);
	if (status !== 201) throw new Error(`session request answered ${status}`);
	return body.sessionId;
}

/**
 * A terminal whose shell watches the session, then says how watch exited,
 * whether the terminal settings are as before, and the next line it reads.
 */
async function watchInTerminal() {
	const terminal = runInTerminal(
		[
			"settings=$(stty -g)",
			cliCommandLine(["sessions", "watch", await openSession()]),
			'echo "watch exited $?"',
			'[ "$(stty -g)" = "$settings" ] && echo "terminal restored"',
			"IFS= read -r next",
			'echo "shell read [$next]"',
		].join("; "),
		adminEnv,
	);
	terminals.push(terminal);
	await terminal.waitForOutput("Watching");
	return terminal;
}

describe("edgevisor sessions watch in a terminal", () => {
	it("drops what is typed while watching, so the shell after it reads none of it", async () => {
		const terminal = await watchInTerminal();
		terminal.type("rm -rf typed-while-watching\r");
		await terminal.waitForOutput("[read-only: typing is ignored; Ctrl-C leaves]");
		terminal.type("\u0003");
		await terminal.waitForOutput("watch exited 0");
		await terminal.waitForOutput("terminal restored");
		terminal.type("typed-after\r");
		await terminal.waitForOutput("shell read [typed-after]");
		expect(await terminal.exited).toBe(0);
		expect(terminal.output()).not.toContain("typed-while-watching");
	});

	it("leaves on Ctrl-], as connect does", async () => {
		const terminal = await watchInTerminal();
		terminal.type("\u001d");
		await terminal.waitForOutput("[stopped watching: viewer left]");
		await terminal.waitForOutput("watch exited 0");
		await terminal.waitForOutput("terminal restored");
		terminal.type("\r");
		expect(await terminal.exited).toBe(0);
	});
});
