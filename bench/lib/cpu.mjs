// CPU time per process tree, read from /proc (Linux). On a shared 2-core
// machine wall-clock throughput is noisy; CPU seconds spent per request by
// the client and by each wrangler dev tree say where the time goes.
import { readdirSync, readFileSync } from "node:fs";

const ticksPerSecond = 100;

function processTable() {
	const table = new Map();
	for (const name of readdirSync("/proc")) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const stat = readFileSync(`/proc/${name}/stat`, "utf8");
			// Fields after the command name, which may itself hold spaces or parens.
			const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
			table.set(Number(name), {
				ppid: Number(fields[1]),
				ticks: Number(fields[11]) + Number(fields[12]),
			});
		} catch {
			// The process ended while we listed it.
		}
	}
	return table;
}

/** CPU milliseconds used so far by `rootPid` and its descendants, in one process table. */
function treeCpuMs(table, childrenOf, rootPid) {
	let ticks = 0;
	const pending = [rootPid];
	while (pending.length > 0) {
		const pid = pending.pop();
		ticks += table.get(pid)?.ticks ?? 0;
		pending.push(...(childrenOf.get(pid) ?? []));
	}
	return (ticks * 1000) / ticksPerSecond;
}

/** CPU milliseconds so far: this process as `client`, and each named tree, from one read of /proc. */
function cpuSnapshot(trees) {
	const table = processTable();
	const childrenOf = new Map();
	for (const [pid, { ppid }] of table) {
		if (!childrenOf.has(ppid)) childrenOf.set(ppid, []);
		childrenOf.get(ppid).push(pid);
	}
	const { user, system } = process.cpuUsage();
	const snapshot = { client: (user + system) / 1000 };
	for (const [name, rootPid] of Object.entries(trees)) {
		snapshot[name] = treeCpuMs(table, childrenOf, rootPid);
	}
	return snapshot;
}

/**
 * Runs `measure` and returns its result with the CPU milliseconds the client
 * (this process) and each named process tree spent meanwhile.
 */
export async function withCpu(trees, measure) {
	const before = cpuSnapshot(trees);
	const result = await measure();
	const after = cpuSnapshot(trees);
	const cpuMs = Object.fromEntries(
		Object.entries(before).map(([name, value]) => [name, after[name] - value]),
	);
	return { result, cpuMs };
}
