// @ts-check
// Who listens on a loopback port: lets scripts/wrangler-dev.mjs tell its own
// wrangler from another server that took the port first.
import { readdir, readFile, readlink } from "node:fs/promises";

/**
 * Whether a process of process group `pgid` listens on 127.0.0.1:`port`.
 * Read from /proc (the socket's inode, then the group's open files), so Linux
 * only: elsewhere it cannot be told and is assumed.
 * @param {number} pgid
 * @param {number} port
 * @returns {Promise<boolean>}
 */
export async function groupListensOn(pgid, port) {
	if (process.platform !== "linux") return true;
	const sockets = await listeningSockets(port);
	if (sockets.size === 0) return false;
	for (const pid of await readdir("/proc")) {
		if (!/^\d+$/.test(pid)) continue;
		try {
			if ((await processGroupOf(pid)) !== pgid) continue;
			for (const fd of await readdir(`/proc/${pid}/fd`)) {
				const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
				if (sockets.has(target)) return true;
			}
		} catch {
			// The process ended while we looked.
		}
	}
	return false;
}

/**
 * The sockets listening on 127.0.0.1:`port`, as their fd links read (`socket:[inode]`).
 * @param {number} port
 */
async function listeningSockets(port) {
	// /proc/net/tcp writes 127.0.0.1 in host byte order and the port in hex; state 0A is LISTEN.
	const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
	const rows = (await readFile("/proc/net/tcp", "utf8")).split("\n").slice(1);
	return new Set(
		rows
			.map((row) => row.trim().split(/\s+/))
			.filter((fields) => fields[1] === local && fields[3] === "0A")
			.map((fields) => `socket:[${fields[9]}]`),
	);
}

/**
 * The process group of process `pid`, from /proc/PID/stat (after the command's parentheses:
 * state, parent, group).
 * @param {string} pid
 */
async function processGroupOf(pid) {
	const stat = await readFile(`/proc/${pid}/stat`, "utf8");
	return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}
