/**
 * Brute-force back-off for VM keys: more than `maxMismatches` key mismatches
 * for one VM within `windowMs` locks the VM's broadcast requests, the right key
 * included, until enough of those mismatches have aged out of the window.
 */

/** The contract's policy (API.md: more than 5 mismatches within 10 minutes). */
export const keyLockoutPolicy = { maxMismatches: 5, windowMs: 10 * 60 * 1000 } as const;

/** Whether requests are locked out, and for how long. */
export type LockoutState = { locked: false } | { locked: true; retryAfterSeconds: number };

/**
 * Lockout state at `nowMs` given the times of past mismatches. The lock ends
 * when the (maxMismatches+1)-th newest mismatch leaves the window, because the
 * window then holds no more than `maxMismatches`.
 */
export function lockoutState(
	mismatchTimesMs: readonly number[],
	nowMs: number,
	policy: { maxMismatches: number; windowMs: number } = keyLockoutPolicy,
): LockoutState {
	const recentNewestFirst = mismatchTimesMs
		.filter((atMs) => atMs > nowMs - policy.windowMs && atMs <= nowMs)
		.sort((a, b) => b - a);
	const boundary = recentNewestFirst[policy.maxMismatches];
	if (boundary === undefined) return { locked: false };
	const remainingMs = boundary + policy.windowMs - nowMs;
	return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)) };
}
