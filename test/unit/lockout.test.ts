// Proves the key lockout rule (shared/lockout.ts) as properties: locked
// exactly when more than 5 mismatches fall in the last 10 minutes, and the
// Retry-After it gives is exactly when the window stops holding more than 5.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keyLockoutPolicy, lockoutState } from "../../shared/lockout";

const { maxMismatches, windowMs } = keyLockoutPolicy;
const now = 1_800_000_000_000;
const times = fc.array(fc.integer({ min: now - 2 * windowMs, max: now }), { maxLength: 20 });
const inWindow = (list: number[], at: number) =>
	list.filter((atMs) => atMs > at - windowMs && atMs <= at).length;

describe("lockoutState", () => {
	it("locks exactly when more than 5 mismatches fall within the last 10 minutes", () => {
		fc.assert(
			fc.property(times, (list) => {
				expect(lockoutState(list, now).locked).toBe(inWindow(list, now) > maxMismatches);
			}),
		);
	});

	it("ends the lock exactly at the Retry-After it reports (to the second)", () => {
		fc.assert(
			fc.property(times, (list) => {
				const state = lockoutState(list, now);
				if (!state.locked) return;
				const endsAt = now + state.retryAfterSeconds * 1000;
				expect(inWindow(list, endsAt)).toBeLessThanOrEqual(maxMismatches);
				expect(lockoutState(list, endsAt - 1000).locked).toBe(state.retryAfterSeconds > 1);
			}),
		);
	});

	it("never reports a Retry-After below 1 s or above 10 minutes", () => {
		fc.assert(
			fc.property(times, (list) => {
				const state = lockoutState(list, now);
				if (!state.locked) return;
				expect(state.retryAfterSeconds).toBeGreaterThanOrEqual(1);
				expect(state.retryAfterSeconds).toBeLessThanOrEqual(windowMs / 1000);
			}),
		);
	});

	it("does not lock on five mismatches, locks on the sixth", () => {
		const five = Array.from({ length: 5 }, (_, index) => now - index * 1000);
		expect(lockoutState(five, now)).toEqual({ locked: false });
		expect(lockoutState([...five, now], now)).toEqual({ locked: true, retryAfterSeconds: 596 });
	});
});
