// Runs the real `edgevisor` CLI as a child process, the way a user does.
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";

const cliPath = join(dirname(import.meta.filename), "../../cli/edgevisor.mjs");

/** What one CLI run printed and how it exited. */
export interface CliRun {
	exitCode: number;
	stdout: string;
	stderr: string;
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
	const { EDGEVISOR_URL: _url, EDGEVISOR_TOKEN: _token, ...inherited } = process.env;
	return new Promise((resolve) => {
		const child = execFile(
			process.execPath,
			[cliPath, ...args],
			{ env: { ...inherited, ...env }, timeout: 30_000 },
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
