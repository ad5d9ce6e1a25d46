/**
 * Translations that arrive during a hold wait here, in memory, for the lift.
 * They await a promise rather than storage, so the object's input gate stays
 * open for the transfer that will lift the hold; a bounded wait means a
 * stalled transfer answers `function_on_hold` instead of blocking forever.
 */
export class LiftWaiters {
	readonly #waiters = new Map<string, Set<() => void>>();

	/** Resolves true when `key` is lifted (or rolled back), false after `timeoutMs`. */
	wait(key: string, timeoutMs: number): Promise<boolean> {
		return new Promise((resolve) => {
			const waiters = this.#waiters.get(key) ?? new Set<() => void>();
			this.#waiters.set(key, waiters);
			const onLift = () => {
				clearTimeout(timer);
				resolve(true);
			};
			const timer = setTimeout(() => {
				waiters.delete(onLift);
				if (waiters.size === 0) this.#waiters.delete(key);
				resolve(false);
			}, timeoutMs);
			waiters.add(onLift);
		});
	}

	/** Wakes every translation waiting on `key`; call after the lift is written. */
	lifted(key: string): void {
		const waiters = this.#waiters.get(key);
		this.#waiters.delete(key);
		for (const wake of waiters ?? []) wake();
	}
}
