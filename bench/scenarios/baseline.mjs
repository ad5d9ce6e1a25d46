// The floor every other scenario is compared with: a bare Hono route and a bare
// Durable Object RPC echo on the baseline Worker, and Edgevisor's own /healthz.
import { fixed } from "../load.mjs";

/** Baseline throughput and latency at 16 connections. */
export async function run({ baseUrl, baselineUrl, load }) {
	const rows = [];
	for (const [name, url] of [
		["baseline: bare Hono route", `${baselineUrl}/hono`],
		["baseline: Hono route + one DO RPC echo", `${baselineUrl}/rpc`],
		["Edgevisor GET /healthz (all middleware)", `${baseUrl}/healthz`],
	]) {
		const result = await load({ url, connections: 16, durationMs: 5_000 });
		rows.push(
			`| ${name} | ${fixed(result.rps, 0)} | ${result.p50Ms} | ${result.p99Ms} | ${result.errors} |`,
		);
	}
	return `## Baselines

| route | req/s | p50 ms | p99 ms | errors |
| --- | --- | --- | --- | --- |
${rows.join("\n")}
`;
}
