// Proves the outbox's retry back-off (shared/backoff.ts) as properties: the
// first retry waits `firstMs`, each later one twice the one before until the
// bound, and no wait ever leaves [firstMs, maxMs], for any policy and any
// number of failures. Does not prove how the outbox applies it (outbox.test.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffMs, outboxBackoff } from "../../shared/backoff";

const policies = fc
	.tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 1, max: 3_600_000 }))
	.map(([firstMs, spanMs]) => ({ firstMs, maxMs: firstMs + spanMs - 1 }));
const failures = fc.integer({ min: 1, max: 10_000 });

describe("backoffMs", () => {
	it("waits firstMs after the first failure", () => {
		fc.assert(fc.property(policies, (policy) => backoffMs(1, policy) === policy.firstMs));
	});

	it("doubles the wait with each failure until it reaches the bound, then keeps it", () => {
		fc.assert(
			fc.property(policies, failures, (policy, failed) => {
				const next = backoffMs(failed + 1, policy);
				expect(next).toBe(Math.min(policy.maxMs, 2 * backoffMs(failed, policy)));
			}),
		);
	});

	it("never waits less than firstMs or more than maxMs", () => {
		fc.assert(
			fc.property(policies, failures, (policy, failed) => {
				const waitMs = backoffMs(failed, policy);
				expect(waitMs).toBeGreaterThanOrEqual(policy.firstMs);
				expect(waitMs).toBeLessThanOrEqual(policy.maxMs);
			}),
		);
	});

	it("keeps the outbox's numbers: 0.5 s doubling to a 60 s bound", () => {
		const waits = Array.from({ length: 10 }, (_, index) => backoffMs(index + 1));
		expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
		expect(outboxBackoff).toEqual({ firstMs: 500, maxMs: 60_000 });
	});
});
