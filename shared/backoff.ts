/**
 * The retry back-off of the Durable Objects' outbox (durable-objects/outbox.ts):
 * bounded exponential, doubling from `firstMs` after the first failed attempt
 * up to `maxMs`, so a peer that is down for long is asked about once a minute.
 */

/** The outbox's policy: 0.5 s, 1 s, 2 s, … 32 s, then 60 s. */
export const outboxBackoff = { firstMs: 500, maxMs: 60_000 } as const;

/** How long to wait after the `failedAttempts`-th failed attempt (1 or more) before the next. */
export function backoffMs(
	failedAttempts: number,
	policy: { firstMs: number; maxMs: number } = outboxBackoff,
): number {
	// Past 2^30 every policy has long reached its bound; the cap keeps the power finite.
	const doublings = Math.min(Math.max(failedAttempts - 1, 0), 30);
	return Math.min(policy.maxMs, policy.firstMs * 2 ** doublings);
}
