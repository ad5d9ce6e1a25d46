// One bash that runs scripts one after another, the way a reader pastes blocks into
// one terminal: variables, functions and background jobs carry over from a script to
// the next. It is a process group of its own, so closing it also ends whatever the
// scripts left running in the background.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ShellSession {
	/**
	 * Runs `script` in the shell and resolves with what it printed (stdout and stderr
	 * interleaved). Rejects, showing that output, when the shell exits (`set -e` ended
	 * it) or the script is still running after `timeoutMs`; the session is then unusable.
	 */
	run(script: string, timeoutMs: number): Promise<string>;
	close(): Promise<void>;
}

/** Starts `bash -euo pipefail` in `cwd` with `env` (and its own TMPDIR), then runs `prelude` in it. */
export async function startShellSession(options: {
	cwd: string;
	env: NodeJS.ProcessEnv;
	prelude: string;
}): Promise<ShellSession> {
	const scriptDir = await mkdtemp(join(tmpdir(), "edgevisor-shell-"));
	const bash = spawn("bash", ["-euo", "pipefail"], {
		cwd: options.cwd,
		// What the scripts put in temp dirs (`mktemp`) goes with the session's own.
		env: { ...options.env, TMPDIR: scriptDir },
		detached: true,
		stdio: ["pipe", "pipe", "pipe"],
	});
	let output = "";
	let exitCode: number | undefined;
	const exited = new Promise<void>((resolve) =>
		bash.once("exit", (code) => {
			exitCode = code ?? -1;
			resolve();
		}),
	);
	bash.stdout.on("data", (chunk: Buffer) => {
		output += chunk.toString();
	});
	bash.stderr.on("data", (chunk: Buffer) => {
		output += chunk.toString();
	});
	// One stream, in the order things were printed.
	bash.stdin.write("exec 2>&1\n");

	let runs = 0;
	let broken = false;
	async function run(script: string, timeoutMs: number): Promise<string> {
		if (broken || exitCode !== undefined) throw new Error("the shell ended in an earlier script");
		runs += 1;
		const file = join(scriptDir, `script-${runs}.sh`);
		await writeFile(file, script);
		const marker = `__script_${runs}_done__`;
		const start = output.length;
		// Sourced, so that it runs in this shell; stdin from /dev/null, so that nothing it
		// starts reads the scripts that follow.
		bash.stdin.write(`source '${file}' < /dev/null\nprintf '\\n%s\\n' '${marker}'\n`);
		return new Promise((resolve, reject) => {
			const fail = (why: string) => {
				broken = true;
				clearInterval(poll);
				clearTimeout(timer);
				reject(new Error(`${why}; its output:\n${output.slice(start)}`));
			};
			const poll = setInterval(() => {
				const end = output.indexOf(marker, start);
				if (end !== -1) {
					clearInterval(poll);
					clearTimeout(timer);
					resolve(output.slice(start, end));
				} else if (exitCode !== undefined) {
					fail(`bash exited with ${exitCode}`);
				}
			}, 50);
			const timer = setTimeout(() => fail(`still running after ${timeoutMs} ms`), timeoutMs);
		});
	}

	async function close(): Promise<void> {
		try {
			process.kill(-(bash.pid as number), "SIGKILL");
		} catch {
			// Nothing left in the group.
		}
		await exited;
		await rm(scriptDir, { recursive: true, force: true });
	}

	await run(options.prelude, 10_000);
	return { run, close };
}
