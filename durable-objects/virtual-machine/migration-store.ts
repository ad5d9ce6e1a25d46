/**
 * SQLite storage of a VM's migrations (team migration's tables in the
 * VirtualMachine object, versioned under their own key): the public record
 * of each migration, its change log (replayed by the SSE stream), the
 * internal handoff state, and the object's outbox (../outbox.ts) of
 * cross-object calls still to make.
 */
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { type Outbox, outboxTable } from "../outbox";
import type { VmHandoff } from "../service-processor";

/** The outbox lane of migration calls: one lane, so calls are made in the order queued. */
export const migrationLane = "migration";

/** Schema steps of the migration tables (see ../sql.ts). */
export const migrationSchema = [
	`CREATE TABLE migrations (migration_id TEXT PRIMARY KEY, record TEXT NOT NULL, active INTEGER NOT NULL, handoff TEXT, created_at TEXT NOT NULL);
	 CREATE UNIQUE INDEX one_active_migration ON migrations (active) WHERE active = 1;
	 CREATE TABLE migration_events (migration_id TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (migration_id, seq));
	 CREATE TABLE migration_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, call TEXT NOT NULL);`,
	// Queued calls move to the shared outbox, in order and due at once.
	`${outboxTable};
	 INSERT INTO outbox (lane, payload, next_attempt_ms)
	   SELECT '${migrationLane}', call, 0 FROM migration_outbox ORDER BY id;
	 DROP TABLE migration_outbox;`,
];

/** Key under which the migration schema version is kept. */
export const migrationSchemaKey = "migration_schema_version";

/** Where an interrupted SP-table handoff stands; each step is persisted before the next. */
export type HandoffState =
	| { step: "export" }
	| { step: "adopt" | "move" | "release" | "functions"; row: VmHandoff }
	| { step: "done" };

/** A cross-object call made after the state change that needs it has committed. */
export type OutboxCall =
	| { kind: "agent"; hostId: string; command: { type: string; [field: string]: unknown } }
	| {
			kind: "outcome";
			migrationId: string;
			targetHostId: string;
			failed: boolean;
			finishedAtMs: number;
	  };

/** One stored change of a migration. */
export interface MigrationChange {
	seq: number;
	record: MigrationRecord;
}

const terminalStates = new Set(["completed", "failed", "cancelled"]);

/** True once a migration can no longer change. */
export function isTerminal(record: MigrationRecord): boolean {
	return terminalStates.has(record.state);
}

/** Typed access to the migration tables. Callers wrap multi-step writes in transactionSync. */
export class MigrationStore {
	constructor(
		private readonly sql: SqlStorage,
		private readonly calls: Outbox<OutboxCall>,
	) {}

	/** A migration's record, or null. */
	get(migrationId: string): MigrationRecord | null {
		const [row] = this.sql
			.exec<{ record: string }>("SELECT record FROM migrations WHERE migration_id = ?", migrationId)
			.toArray();
		return row ? (JSON.parse(row.record) as MigrationRecord) : null;
	}

	/** The VM's migrations, newest first. */
	list(): MigrationRecord[] {
		return this.sql
			.exec<{ record: string }>(
				"SELECT record FROM migrations ORDER BY created_at DESC, rowid DESC",
			)
			.toArray()
			.map((row) => JSON.parse(row.record) as MigrationRecord);
	}

	/** The migration still validating or migrating, if any (at most one: unique index). */
	active(): MigrationRecord | null {
		const [row] = this.sql
			.exec<{ record: string }>("SELECT record FROM migrations WHERE active = 1")
			.toArray();
		return row ? (JSON.parse(row.record) as MigrationRecord) : null;
	}

	/** Inserts a new migration and logs it as its first change. */
	insert(record: MigrationRecord): MigrationChange {
		this.sql.exec(
			"INSERT INTO migrations (migration_id, record, active, created_at) VALUES (?, ?, ?, ?)",
			record.migrationId,
			JSON.stringify(record),
			isTerminal(record) ? 0 : 1,
			record.createdAt,
		);
		return this.logChange(record);
	}

	/** Saves a changed record and logs the change. */
	update(record: MigrationRecord): MigrationChange {
		this.sql.exec(
			"UPDATE migrations SET record = ?, active = ? WHERE migration_id = ?",
			JSON.stringify(record),
			isTerminal(record) ? 0 : 1,
			record.migrationId,
		);
		return this.logChange(record);
	}

	private logChange(record: MigrationRecord): MigrationChange {
		const [row] = this.sql
			.exec<{ seq: number }>(
				"SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM migration_events WHERE migration_id = ?",
				record.migrationId,
			)
			.toArray();
		const seq = row?.seq ?? 1;
		this.sql.exec(
			"INSERT INTO migration_events (migration_id, seq, record) VALUES (?, ?, ?)",
			record.migrationId,
			seq,
			JSON.stringify(record),
		);
		return { seq, record };
	}

	/** Changes of a migration after `afterSeq`, oldest first. */
	changesAfter(migrationId: string, afterSeq: number): MigrationChange[] {
		return this.sql
			.exec<{ seq: number; record: string }>(
				"SELECT seq, record FROM migration_events WHERE migration_id = ? AND seq > ? ORDER BY seq",
				migrationId,
				afterSeq,
			)
			.toArray()
			.map((row) => ({ seq: row.seq, record: JSON.parse(row.record) as MigrationRecord }));
	}

	/** The latest change of a migration. */
	latestChange(migrationId: string): MigrationChange | null {
		const [row] = this.sql
			.exec<{ seq: number; record: string }>(
				"SELECT seq, record FROM migration_events WHERE migration_id = ? ORDER BY seq DESC LIMIT 1",
				migrationId,
			)
			.toArray();
		return row ? { seq: row.seq, record: JSON.parse(row.record) as MigrationRecord } : null;
	}

	/** The handoff state of a migration, if its handoff has begun. */
	handoff(migrationId: string): HandoffState | null {
		const [row] = this.sql
			.exec<{ handoff: string | null }>(
				"SELECT handoff FROM migrations WHERE migration_id = ?",
				migrationId,
			)
			.toArray();
		return row?.handoff ? (JSON.parse(row.handoff) as HandoffState) : null;
	}

	/**
	 * Migrations whose handoff is under way, oldest first: the active one after
	 * `migration.completed`, or one cancelled too late (see ./cancellation.ts).
	 */
	pendingHandoffs(): string[] {
		return this.sql
			.exec<{ migration_id: string }>(
				`SELECT migration_id FROM migrations
				 WHERE handoff IS NOT NULL AND json_extract(handoff, '$.step') <> 'done'
				   AND (active = 1 OR json_extract(record, '$.cancellation.outcome') = 'too_late')
				 ORDER BY created_at, rowid`,
			)
			.toArray()
			.map((row) => row.migration_id);
	}

	/** Persists the handoff's next step. */
	setHandoff(migrationId: string, state: HandoffState): void {
		this.sql.exec(
			"UPDATE migrations SET handoff = ? WHERE migration_id = ?",
			JSON.stringify(state),
			migrationId,
		);
	}

	/** Queues a call to make once the current transaction has committed. */
	enqueue(call: OutboxCall): void {
		this.calls.add(call);
	}

	/** The VM's migrations and failures since a moment (for `history`). */
	history(sinceIso: string): { migrations: number; failures: number } {
		let migrations = 0;
		let failures = 0;
		for (const record of this.list()) {
			if (record.createdAt < sinceIso) continue;
			migrations++;
			if (record.state === "failed") failures++;
		}
		return { migrations, failures };
	}
}
