// Runs the real `edgevisor` CLI (and the other tools) as child processes, the
// way a user does: to the end with its output, or live in a real terminal.
import { execFile, spawn } from "node:child_process";
import { dirname, join } from "node:path";

const cliPath = join(dirname(import.meta.filename), "../../cli/edgevisor.mjs");

/** What one CLI run printed and how it exited. */
export interface CliRun {
	exitCode: number;
	stdout: string;
	stderr: string;
}

/** The caller's environment without EDGEVISOR_* settings, so each test states its own. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
	const { EDGEVISOR_URL: _url, EDGEVISOR_TOKEN: _token, ...inherited } = process.env;
	return { ...inherited, ...env };
}

/**
 * Runs `edgevisor …args` with a clean environment (no EDGEVISOR_* from the
 * caller unless given in `env`), `input` piped to stdin, and a 30 s time limit.
 */
export function runCli(
	args: string[],
	env: Record<string, string> = {},
	input = "",
): Promise<CliRun> {
	return new Promise((resolve) => {
		const child = execFile(
			process.execPath,
			[cliPath, ...args],
			{ env: cleanEnv(env), timeout: 30_000 },
			(error, stdout, stderr) => {
				const exitCode = error ? (typeof error.code === "number" ? error.code : -1) : 0;
				resolve({ exitCode, stdout, stderr });
			},
		);
		child.stdin?.end(input);
	});
}

/** The lines of a text, without the empty one after the final newline. */
export function linesOf(text: string): string[] {
	return text.split("\n").filter((line) => line !== "");
}

/** A process left running, with its stdout and stderr interleaved as it printed them. */
export interface LiveProcess {
	exited: Promise<number>;
	output(): string;
	type(text: string): void;
	/** Resolves once `text` was printed (CRs ignored), or rejects after `timeoutMs` showing the output. */
	waitForOutput(text: string, timeoutMs?: number): Promise<void>;
	kill(signal: NodeJS.Signals): void;
}

/** Starts `command …args` with a clean environment plus `env`, and watches what it prints. */
export function startProcess(
	command: string,
	args: string[],
	env: Record<string, string> = {},
): LiveProcess {
	const child = spawn(command, args, { env: cleanEnv(env), stdio: ["pipe", "pipe", "pipe"] });
	let output = "";
	const append = (chunk: Buffer) => {
		output += chunk.toString();
	};
	child.stdout.on("data", append);
	child.stderr.on("data", append);
	const exited = new Promise<number>((resolve) =>
		child.once("exit", (code) => resolve(code ?? -1)),
	);
	return {
		exited,
		output: () => output,
		type: (text) => child.stdin.write(text),
		kill: (signal) => child.kill(signal),
		waitForOutput(text, timeoutMs = 15_000) {
			return new Promise((resolve, reject) => {
				const check = () => {
					// A pty turns LF into CRLF (ONLCR), so compare without CRs.
					if (!output.replaceAll("\r", "").includes(text)) return;
					clearTimeout(timer);
					child.stdout.off("data", check);
					child.stderr.off("data", check);
					resolve();
				};
				const timer = setTimeout(() => {
					child.stdout.off("data", check);
					child.stderr.off("data", check);
					reject(new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(output)}`));
				}, timeoutMs);
				child.stdout.on("data", check);
				child.stderr.on("data", check);
				check();
			});
		},
	};
}

/** `edgevisor …args` as one shell command line, every word quoted. */
export function cliCommandLine(args: string[]): string {
	return [process.execPath, cliPath, ...args]
		.map((word) => `'${word.replaceAll("'", "'\\''")}'`)
		.join(" ");
}

/** Runs a shell command line under `script`, so its stdin and stdout are a real terminal. */
export function runInTerminal(commandLine: string, env: Record<string, string> = {}): LiveProcess {
	return startProcess("script", ["-qfec", commandLine, "/dev/null"], env);
}
