/**
 * A Map that keeps at most `capacity` entries: setting a new key when full
 * drops the least recently set one. Used for caches that may forget (a
 * forgotten entry costs a slower path, never a wrong answer).
 */
export class BoundedMap<K, V> {
	private readonly entries = new Map<K, V>();

	constructor(private readonly capacity: number) {
		if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be ≥ 1");
	}

	/** The value for `key`, or undefined. */
	get(key: K): V | undefined {
		return this.entries.get(key);
	}

	/** Sets `key` as the most recent entry, dropping the oldest beyond capacity. */
	set(key: K, value: V): void {
		// Re-inserting moves the key to the end of the Map's insertion order.
		this.entries.delete(key);
		this.entries.set(key, value);
		if (this.entries.size > this.capacity) {
			const oldest = this.entries.keys().next();
			if (!oldest.done) this.entries.delete(oldest.value);
		}
	}

	/** Forgets `key`. */
	delete(key: K): void {
		this.entries.delete(key);
	}

	/** How many entries are kept. */
	get size(): number {
		return this.entries.size;
	}
}
