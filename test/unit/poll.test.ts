// Proves the bounded poller of test/support/poll.ts that tests use for
// effects with no event to await: it answers as soon as the probe does, and
// at its deadline it fails and probes no more, even when a probe hangs. Time
// is Vitest's fake clock, so nothing here waits on a real one.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pollUntil } from "../support/poll";

beforeEach(() => {
	vi.useFakeTimers();
});
afterEach(() => {
	vi.useRealTimers();
});

describe("pollUntil", () => {
	it("resolves with the first value the predicate accepts", async () => {
		let probes = 0;
		const polled = pollUntil(
			() => ++probes,
			(count) => count === 3,
			{
				timeoutMs: 1_000,
				what: "the third probe",
			},
		);
		await vi.advanceTimersByTimeAsync(200);
		expect(await polled).toBe(3);
	});

	it("fails at its deadline, naming what it waited for and the last value, then probes no more", async () => {
		let probes = 0;
		const polled = pollUntil(
			() => ++probes,
			() => false,
			{ timeoutMs: 1_000, what: "never" },
		);
		const failed = expect(polled).rejects.toThrow(/^never within 1000 ms; last: \d+$/);
		await vi.advanceTimersByTimeAsync(1_000);
		await failed;
		const probesByDeadline = probes;
		await vi.advanceTimersByTimeAsync(10_000);
		expect(probes).toBe(probesByDeadline);
	});

	it("fails at its deadline when a probe never answers", async () => {
		const polled = pollUntil(
			() => new Promise<never>(() => {}),
			() => true,
			{
				timeoutMs: 1_000,
				what: "a hanging probe",
			},
		);
		const failed = expect(polled).rejects.toThrow("a hanging probe within 1000 ms");
		await vi.advanceTimersByTimeAsync(1_000);
		await failed;
	});
});
