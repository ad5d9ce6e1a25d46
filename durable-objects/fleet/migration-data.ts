/**
 * The Fleet singleton's migration data (team migration's section of Fleet):
 * the policy in force, and the outcomes of migrations per target host, which
 * rules read as `history.targetFailures`. Its schema is versioned under its own
 * key so it stays apart from Fleet's directory schema.
 */
import { defaultPolicy } from "../../shared/default-policy";
import type { MigrationPolicy } from "../../shared/schemas/migrations";

/** Schema steps of the migration data (see ../sql.ts). */
export const migrationDataSchema = [
	`CREATE TABLE migration_policy (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	policy TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE migration_outcome (
	migration_id TEXT PRIMARY KEY,
	target_host_id TEXT NOT NULL,
	failed INTEGER NOT NULL,
	finished_at_ms INTEGER NOT NULL
);
CREATE INDEX migration_outcome_by_target ON migration_outcome (target_host_id, finished_at_ms);`,
];

/** The policy in force: the last one stored, else the default. */
export function readPolicy(sql: SqlStorage): MigrationPolicy {
	const [row] = sql
		.exec<{ policy: string }>("SELECT policy FROM migration_policy WHERE id = 1")
		.toArray();
	return row ? (JSON.parse(row.policy) as MigrationPolicy) : defaultPolicy;
}

/** Replaces the policy (already validated by the caller). */
export function writePolicy(sql: SqlStorage, policy: MigrationPolicy, now: Date): void {
	sql.exec(
		`INSERT INTO migration_policy (id, policy, updated_at) VALUES (1, ?, ?)
		 ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
		JSON.stringify(policy),
		now.toISOString(),
	);
}

/** Records how a migration onto a host ended; idempotent per migration. */
export function recordOutcome(
	sql: SqlStorage,
	outcome: { migrationId: string; targetHostId: string; failed: boolean; finishedAtMs: number },
): void {
	sql.exec(
		`INSERT INTO migration_outcome (migration_id, target_host_id, failed, finished_at_ms)
		 VALUES (?, ?, ?, ?) ON CONFLICT (migration_id) DO NOTHING`,
		outcome.migrationId,
		outcome.targetHostId,
		outcome.failed ? 1 : 0,
		outcome.finishedAtMs,
	);
}

/** Failed migrations onto a host since a moment. */
export function countTargetFailures(
	sql: SqlStorage,
	targetHostId: string,
	sinceMs: number,
): number {
	const [row] = sql
		.exec<{ failures: number }>(
			`SELECT COUNT(*) AS failures FROM migration_outcome
			 WHERE target_host_id = ? AND failed = 1 AND finished_at_ms >= ?`,
			targetHostId,
			sinceMs,
		)
		.toArray();
	return row?.failures ?? 0;
}
