// HTTP load through autocannon, summarised the way every scenario reports it.
import autocannon from "autocannon";

/**
 * Drives `url` with `connections` concurrent keep-alive connections for
 * `durationMs` and returns requests/s, latency percentiles and errors
 * (non-2xx answers count as errors).
 */
export async function load({
	url,
	method = "GET",
	headers = {},
	body,
	connections = 16,
	durationMs = 5_000,
}) {
	const result = await autocannon({
		url,
		method,
		headers,
		body,
		connections,
		duration: durationMs / 1000,
	});
	return {
		requests: result.requests.total,
		rps: result.requests.average,
		p50Ms: result.latency.p50,
		p99Ms: result.latency.p99,
		errors: result.errors + result.timeouts + result.non2xx,
	};
}

/** Median of a list of numbers (the summary every repeated measurement uses). */
export function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The p-th percentile (0–100) of a list of numbers, nearest rank. */
export function percentile(values, p) {
	const sorted = [...values].sort((a, b) => a - b);
	const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return sorted[rank];
}

/** Formats a number with `digits` decimals for the results tables. */
export function fixed(value, digits = 2) {
	return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/**
 * Closed-loop load for requests that cannot be pre-built (each needs a fresh
 * JWE, say): `concurrency` workers call `task()` back to back for
 * `durationMs`. Returns the same summary as `load`.
 */
export async function closedLoop({ task, concurrency = 16, durationMs = 5_000 }) {
	const latenciesMs = [];
	let errors = 0;
	const deadline = performance.now() + durationMs;
	const startedAt = performance.now();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (performance.now() < deadline) {
				const sentAt = performance.now();
				try {
					if ((await task()) === false) errors++;
				} catch {
					errors++;
				}
				latenciesMs.push(performance.now() - sentAt);
			}
		}),
	);
	const elapsedSeconds = (performance.now() - startedAt) / 1000;
	return {
		requests: latenciesMs.length,
		rps: latenciesMs.length / elapsedSeconds,
		p50Ms: percentile(latenciesMs, 50),
		p99Ms: percentile(latenciesMs, 99),
		errors,
	};
}
