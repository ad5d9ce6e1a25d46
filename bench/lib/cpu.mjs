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

/** CPU milliseconds used so far by `rootPid` and all its descendants. */
export function treeCpuMs(rootPid) {
	const table = processTable();
	const children = new Map();
	for (const [pid, { ppid }] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
	let ticks = 0;
	const pending = [rootPid];
	while (pending.length > 0) {
		const pid = pending.pop();
		ticks += table.get(pid)?.ticks ?? 0;
		pending.push(...(children.get(pid) ?? []));
	}
	return (ticks * 1000) / ticksPerSecond;
}

/** CPU milliseconds this Node process has used so far. */
export function ownCpuMs() {
	const { user, system } = process.cpuUsage();
	return (user + system) / 1000;
}

/**
 * Runs `measure` and returns its result with the CPU milliseconds the client
 * (this process) and each named process tree spent meanwhile.
 */
export async function withCpu(trees, measure) {
	const before = { client: ownCpuMs(), ...mapValues(trees, treeCpuMs) };
	const result = await measure();
	const after = { client: ownCpuMs(), ...mapValues(trees, treeCpuMs) };
	return { result, cpuMs: mapValues(before, (value, name) => after[name] - value) };
}

function mapValues(object, map) {
	return Object.fromEntries(
		Object.entries(object).map(([name, value]) => [name, map(value, name)]),
	);
}
