import { withTimeout } from "./inbox";

/**
 * Bounded polling for effects with no event to await, shared by the workerd
 * and the Node tests. Once the deadline passes the poller rejects and probes
 * no more: a poller left running after its test failed would go on calling
 * the Worker during the tests that follow.
 */

/** How a poll is bounded and named. */
export interface PollOptions {
	/** Fails the poll this long after it started; no probe starts later. */
	timeoutMs: number;
	/** Said in the failure: "<what> within <timeoutMs> ms". */
	what: string;
	/** Pause between probes. */
	intervalMs?: number;
}

/** Resolves with the first value of `probe` that `done` accepts; rejects at the deadline. */
export async function pollUntil<T>(
	probe: () => Promise<T> | T,
	done: (value: T) => boolean,
	{ timeoutMs, what, intervalMs = 50 }: PollOptions,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	const remaining = () => deadline - Date.now();
	let last: { value: T } | undefined;
	const failure = () =>
		new Error(
			`${what} within ${timeoutMs} ms${last ? `; last: ${JSON.stringify(last.value)}` : ""}`,
		);
	for (;;) {
		if (remaining() <= 0) throw failure();
		// A probe that hangs is cut off at the deadline too.
		const value = await withTimeout(Promise.resolve(probe()), remaining(), what);
		if (done(value)) return value;
		last = { value };
		const pauseMs = Math.min(intervalMs, remaining());
		if (pauseMs <= 0) throw failure();
		await new Promise((resolve) => setTimeout(resolve, pauseMs));
	}
}
