/**
 * How migrations onto this host ended, which migration rules read as
 * `history.targetFailures`. Kept by the target host's own service processor,
 * so no migration writes or reads a fleet-wide object.
 */

/** Records how a migration onto this host ended; idempotent per migration. */
export function recordOutcome(
	sql: SqlStorage,
	outcome: { migrationId: string; failed: boolean; finishedAtMs: number },
): void {
	sql.exec(
		`INSERT INTO migration_outcomes (migration_id, failed, finished_at_ms)
		 VALUES (?, ?, ?) ON CONFLICT (migration_id) DO NOTHING`,
		outcome.migrationId,
		outcome.failed ? 1 : 0,
		outcome.finishedAtMs,
	);
}

/** Failed migrations onto this host since `sinceMs`. */
export function countFailures(sql: SqlStorage, sinceMs: number): number {
	const [row] = sql
		.exec<{ failures: number }>(
			"SELECT COUNT(*) AS failures FROM migration_outcomes WHERE failed = 1 AND finished_at_ms >= ?",
			sinceMs,
		)
		.toArray();
	return row?.failures ?? 0;
}
