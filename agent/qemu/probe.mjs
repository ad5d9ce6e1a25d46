// @ts-check
// The migration path, measured: every QEMU agent accepts throughput probes on
// its migration network (where incoming QEMUs listen) and reports where in
// its `host.facts`; a source agent's bandwidth checks send it zeros for a
// second and read back how many bytes arrived. Hosts never trust each other:
// the sink only counts bytes, and bounds each probe's time and size.
import { createConnection, createServer } from "node:net";
import { listenUri } from "./migration.mjs";

/** A probe lasts this long on the sender's side; the sink cuts one off after twice that. */
const probeMs = 1_000;
/** Probes served at once; more are refused. */
const maxConcurrentProbes = 2;
/** Bytes a sink counts from one probe before it cuts it off. */
const maxProbeBytes = 4 * 1024 ** 3;

/**
 * Listens for probes on the migration network's address (any free port);
 * resolves with the `tcp:HOST:PORT` to report and a `close()`.
 * @param {string} migrationAddress `--migration-address`: HOST or HOST:PORT (the port is QEMU's)
 */
export async function startProbeSink(migrationAddress) {
	const { host } = listenUri(migrationAddress);
	let active = 0;
	const server = createServer((socket) => {
		if (active >= maxConcurrentProbes) return socket.destroy();
		active += 1;
		let received = 0;
		const cutOff = setTimeout(() => socket.destroy(), probeMs * 2);
		socket.on("data", (chunk) => {
			received += chunk.length;
			if (received > maxProbeBytes) socket.destroy();
		});
		// The sender half-closes when done; the count is the only answer.
		socket.on("end", () => socket.end(`${received}\n`));
		socket.on("error", () => {});
		socket.on("close", () => {
			clearTimeout(cutOff);
			active -= 1;
		});
	});
	const bindHost = host.replace(/^\[(.*)\]$/, "$1");
	await new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, bindHost, () => resolve(undefined));
	});
	const address = server.address();
	const port = typeof address === "object" && address ? address.port : 0;
	return { address: `tcp:${host}:${port}`, close: () => server.close() };
}

/**
 * Sends zeros to a probe sink for `probeMs` and resolves with what arrived
 * per second, in MiB/s; rejects when the path does not connect.
 * @param {string} address `tcp:HOST:PORT` (the schema checked it)
 */
export function measureThroughput(address) {
	const match = address.match(/^tcp:\[?([^\]]+?)\]?:(\d+)$/);
	if (!match) return Promise.reject(new Error(`not a probe address: ${address}`));
	const [, host = "", port = "0"] = match;
	return new Promise((resolve, reject) => {
		const socket = createConnection({ host, port: Number(port), timeout: 3_000 });
		const chunk = Buffer.alloc(256 * 1024);
		let startedAt = 0;
		let answer = "";
		const fail = (/** @type {Error} */ error) => {
			socket.destroy();
			reject(error);
		};
		socket.on("timeout", () => fail(new Error(`no answer from ${host}:${port} within 3 s`)));
		socket.on("error", fail);
		socket.on("connect", () => {
			socket.setTimeout(probeMs * 3);
			startedAt = performance.now();
			const pump = () => {
				while (performance.now() - startedAt < probeMs) {
					if (!socket.write(chunk)) return void socket.once("drain", pump);
				}
				socket.end();
			};
			pump();
		});
		socket.on("data", (data) => {
			answer += data.toString("utf8");
		});
		socket.on("end", () => {
			const bytes = Number(answer.trim());
			const seconds = (performance.now() - startedAt) / 1000;
			if (!Number.isFinite(bytes) || bytes <= 0)
				return fail(new Error("the target counted nothing"));
			resolve(bytes / 1024 ** 2 / seconds);
		});
	});
}
