/** The KV key of an object's schema version unless a module names its own. */
const schemaVersionKey = "schema_version";

/** Whether the object ever created its schema (read without creating storage). */
export function hasSchema(storage: DurableObjectStorage, key = schemaVersionKey): boolean {
	return storage.kv.get(key) !== undefined;
}

/**
 * Versioned SQLite schema migrations for a Durable Object. `steps[i]` takes
 * the schema from version i to i + 1. Durable Object SQLite refuses
 * `PRAGMA user_version` (SQLITE_AUTH), so the version lives in the object's
 * synchronous KV under `key`; the steps and the version bump commit together.
 * Callers run this in the constructor so no request sees a half-built schema
 * (an object that public requests may name by any id runs it only where
 * `hasSchema` says so, or before its first write); separate `key`s let
 * independent modules of one object keep their own lists.
 */
export function migrateSchema(
	storage: DurableObjectStorage,
	steps: ReadonlyArray<string>,
	key = schemaVersionKey,
): void {
	const current = storage.kv.get<number>(key) ?? 0;
	if (current >= steps.length) return;
	storage.transactionSync(() => {
		for (let version = current; version < steps.length; version++) {
			storage.sql.exec(steps[version] as string);
		}
		storage.kv.put(key, steps.length);
	});
}
