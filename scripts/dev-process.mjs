// Process plumbing for `npm run dev` (scripts/dev.mjs): is the port free, how
// is it asked to stop, and how does the wrangler process group end.
import { createServer } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/**
 * Why `port` cannot be served on loopback, or undefined when it is free. Tried
 * by listening on it, as wrangler will: a fetch would miss a port held by
 * something that does not speak HTTP.
 */
export async function portProblem(port) {
	if (!Number.isInteger(port) || port < 1 || port > 65_535)
		return "PORT must be a number from 1 to 65535";
	return new Promise((resolve) => {
		const probe = createServer();
		probe.once("error", (error) =>
			resolve(
				error.code === "EADDRINUSE"
					? `port ${port} is in use (is another \`npm run dev\` running?); set PORT=… to use another`
					: `port ${port} cannot be used: ${error.message}`,
			),
		);
		probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(undefined)));
	});
}

/**
 * Calls `stop` on every way of being asked to stop: Ctrl-C, SIGTERM, a
 * hang-up (terminal closed, SSH dropped) and the parent process dying (we are
 * re-parented then). The handlers stay installed, so a repeated signal (npm
 * forwards the Ctrl-C the terminal already sent us) cannot kill this process
 * half-way through stopping; `stop` must tolerate being called again.
 */
export function onStopRequest(stop) {
	for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, stop);
	const parent = process.ppid;
	setInterval(() => {
		if (process.ppid !== parent) stop();
	}, 1000).unref();
	// Without a terminal or reader, a failed write must not cut the stopping short.
	for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
}

/**
 * Ends process group `pgid` (wrangler spawned detached: npx, wrangler and
 * workerd), signalled as a group because workerd outlives a wrangler killed
 * alone. SIGTERM, then SIGKILL if anything is left after `graceMs`.
 */
export async function stopProcessGroup(pgid, graceMs = 10_000) {
	if (!signalGroup(pgid, "SIGTERM")) return;
	if (await groupGone(pgid, graceMs)) return;
	signalGroup(pgid, "SIGKILL");
	await groupGone(pgid, 2_000);
}

/** Sends `signal` to every process of group `pgid`; false when the group is empty. */
function signalGroup(pgid, signal) {
	try {
		process.kill(-pgid, signal);
		return true;
	} catch {
		return false;
	}
}

async function groupGone(pgid, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (!signalGroup(pgid, 0)) return true;
		await delay(100);
	}
	return false;
}
