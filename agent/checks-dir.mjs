// @ts-check
// Operators' own validation checks: an executable in `--checks-dir` named
// after the subtask id, run the way monitoring plugins are (API.md, "Host
// agent for QEMU hosts"): the migration in its environment, exit 0 passes,
// anything else fails, its last line of output is the detail, and it is
// killed at the subtask's timeout.
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import { isIdentifier } from "../shared/ids.ts";

/** Output kept from a check; its last line is all a result carries. */
const maxOutputBytes = 64 * 1024;
const maxDetailLength = 2_000;

/**
 * The executable for `subtask` in `checksDir`, or undefined. Subtask ids
 * follow the identifier grammar, so one can never name a path outside it.
 * @param {string | undefined} checksDir @param {string} subtask
 */
export async function findCheck(checksDir, subtask) {
	if (!checksDir || !isIdentifier(subtask)) return undefined;
	const path = join(checksDir, subtask);
	try {
		if (!(await stat(path)).isFile()) return undefined;
		await access(path, constants.X_OK);
		return path;
	} catch {
		return undefined;
	}
}

/**
 * Runs a check executable; resolves with its verdict, never rejects.
 * @param {string} path
 * @param {{migrationId: string, vmId: string, sourceHostId: string, targetHostId: string, validationSet: string, subtask: string}} run
 * @param {number} timeoutMs
 * @returns {Promise<{ok: boolean, detail: string}>}
 */
export function runCheckExecutable(path, run, timeoutMs) {
	return new Promise((resolve) => {
		const child = spawn(path, [], {
			// A minimal environment: the agent's own (its secrets' paths included) is not the check's business.
			env: {
				PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
				EDGEVISOR_MIGRATION_ID: run.migrationId,
				EDGEVISOR_VM_ID: run.vmId,
				EDGEVISOR_SOURCE_HOST_ID: run.sourceHostId,
				EDGEVISOR_TARGET_HOST_ID: run.targetHostId,
				EDGEVISOR_VALIDATION_SET: run.validationSet,
				EDGEVISOR_SUBTASK: run.subtask,
			},
			stdio: ["ignore", "pipe", "pipe"],
			detached: true,
		});
		let output = "";
		const keep = (/** @type {Buffer} */ chunk) => {
			output = (output + chunk.toString("utf8")).slice(-maxOutputBytes);
		};
		child.stdout.on("data", keep);
		child.stderr.on("data", keep);
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			// The whole group: a shell script's children go too.
			try {
				if (child.pid) process.kill(-child.pid, "SIGKILL");
			} catch {}
		}, timeoutMs);
		child.on("error", (error) => {
			clearTimeout(timer);
			resolve({ ok: false, detail: `${run.subtask}: could not run ${path}: ${error.message}` });
		});
		child.on("close", (code, signal) => {
			clearTimeout(timer);
			const lastLine = output.trim().split("\n").at(-1)?.trim().slice(0, maxDetailLength) ?? "";
			if (timedOut) {
				resolve({ ok: false, detail: `${run.subtask}: killed after ${timeoutMs / 1000} s` });
			} else if (code === 0) {
				resolve({ ok: true, detail: lastLine || `${run.subtask} passed` });
			} else {
				const how = signal ? `killed by ${signal}` : `exit ${code}`;
				resolve({ ok: false, detail: lastLine || `${run.subtask} failed (${how})` });
			}
		});
	});
}
