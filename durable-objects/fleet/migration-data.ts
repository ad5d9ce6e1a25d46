/**
 * The Fleet singleton's migration policy: the one in force, stored. Its schema
 * is versioned under its own key so it stays apart from Fleet's directory schema.
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
	// Outcomes moved to each target host's service processor (service-processor/migration-outcomes.ts).
	"DROP TABLE migration_outcome;",
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
