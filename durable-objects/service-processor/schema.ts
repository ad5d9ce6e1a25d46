import { outboxTable } from "../outbox";
import { seenJtisPerVm } from "../seen-jtis";
import { migrateSchema } from "../sql";
import { directoryLane } from "./directory";

/**
 * The service processor's SQLite schema. Each entry migrates from version i
 * to i+1 (see ../sql.ts); the constructor runs it before any request.
 */
export const serviceProcessorSchema: ReadonlyArray<string> = [
	`
	CREATE TABLE host (
		singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
		host_id TEXT NOT NULL,
		domain TEXT NOT NULL,
		site TEXT NOT NULL,
		cpu TEXT NOT NULL,
		memory_mib INTEGER NOT NULL,
		hypervisor TEXT NOT NULL,
		facts TEXT NOT NULL DEFAULT '{}',
		agent_token_hash TEXT NOT NULL,
		webhook_secret TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE TABLE directory_tasks (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		kind TEXT NOT NULL,
		domain TEXT NOT NULL
	);
	CREATE TABLE vms (
		vm_id TEXT PRIMARY KEY,
		key_hash TEXT NOT NULL,
		key_version INTEGER NOT NULL,
		memory_mib INTEGER NOT NULL,
		vcpus INTEGER NOT NULL,
		enrolled_at TEXT NOT NULL
	);
	CREATE TABLE key_mismatches (vm_id TEXT NOT NULL, at_ms INTEGER NOT NULL);
	CREATE INDEX key_mismatches_by_vm ON key_mismatches (vm_id, at_ms);
	CREATE TABLE sessions (
		session_id TEXT PRIMARY KEY,
		vm_id TEXT NOT NULL,
		key_version INTEGER NOT NULL,
		state TEXT NOT NULL,
		created_at TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		user_secured_at TEXT NOT NULL,
		user_attached_at TEXT,
		vm_secured_at TEXT,
		closed_at TEXT,
		close_reason TEXT,
		bytes_from_user INTEGER NOT NULL DEFAULT 0,
		bytes_from_vm INTEGER NOT NULL DEFAULT 0,
		last_activity_ms INTEGER NOT NULL
	);
	CREATE INDEX sessions_by_vm ON sessions (vm_id, state);
	CREATE INDEX sessions_by_state ON sessions (state);
	CREATE TABLE channel_tokens (
		token_hash TEXT PRIMARY KEY,
		session_id TEXT NOT NULL,
		side TEXT NOT NULL,
		expires_ms INTEGER NOT NULL
	);
	CREATE TABLE pending_frames (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		session_id TEXT NOT NULL,
		to_side TEXT NOT NULL,
		text TEXT,
		data BLOB
	);
	CREATE TABLE agent_commands (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		id TEXT NOT NULL UNIQUE,
		type TEXT NOT NULL,
		session_id TEXT,
		body TEXT NOT NULL,
		created_at TEXT NOT NULL
	);
	CREATE TABLE webhook_ids (id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL);
	CREATE TABLE audit (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		at TEXT NOT NULL,
		type TEXT NOT NULL,
		session_id TEXT,
		vm_id TEXT,
		detail TEXT
	);
	`,
	// Console recordings (asciicast v2): one row per session whose VM side
	// attached; its event lines wait in recording_events until the closed
	// recording is in R2. `bytes` is the size of the .cast so far.
	`
	CREATE TABLE recordings (
		session_id TEXT PRIMARY KEY,
		start_ms INTEGER NOT NULL,
		header TEXT NOT NULL,
		bytes INTEGER NOT NULL,
		events INTEGER NOT NULL DEFAULT 0,
		truncated INTEGER NOT NULL DEFAULT 0,
		finished INTEGER NOT NULL DEFAULT 0,
		stored INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX recordings_to_store ON recordings (finished, stored);
	CREATE TABLE recording_events (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		session_id TEXT NOT NULL,
		line TEXT NOT NULL
	);
	CREATE INDEX recording_events_by_session ON recording_events (session_id, seq);
	`,
	// Announcing and withdrawing VMs to the domain's forwarding table.
	"ALTER TABLE directory_tasks ADD COLUMN vm_id TEXT;",
	// Replay guard for the VMs this SP holds (requests may come straight from the edge).
	`CREATE TABLE seen_jtis (jti TEXT PRIMARY KEY, vm_id TEXT NOT NULL, exp_seconds INTEGER NOT NULL);
	 CREATE INDEX seen_jtis_by_exp ON seen_jtis (exp_seconds);
	 CREATE INDEX seen_jtis_by_vm ON seen_jtis (vm_id);`,
	seenJtisPerVm,
	// Sessions that survive their VM's live migration: where the VM side is now
	// (null: this host), the origin its channel URLs are built on, and until when
	// a moving VM side may re-attach; on the VM's new host, the sessions other
	// SPs hold for its VMs.
	`ALTER TABLE sessions ADD COLUMN vm_host_id TEXT;
	 ALTER TABLE sessions ADD COLUMN channel_origin TEXT;
	 ALTER TABLE sessions ADD COLUMN vm_reattach_deadline_ms INTEGER;
	 CREATE TABLE carried_sessions (session_id TEXT PRIMARY KEY, vm_id TEXT NOT NULL, holder_host_id TEXT NOT NULL);
	 CREATE INDEX carried_sessions_by_vm ON carried_sessions (vm_id);`,
	// Key lockouts per client address (./lockouts.ts). Mismatches recorded
	// before carry no address and cannot be attributed: they are dropped.
	`DELETE FROM key_mismatches;
	 DROP INDEX key_mismatches_by_vm;
	 ALTER TABLE key_mismatches ADD COLUMN client TEXT NOT NULL DEFAULT '';
	 CREATE INDEX key_mismatches_by_vm_client ON key_mismatches (vm_id, client, at_ms);
	 CREATE INDEX key_mismatches_by_time ON key_mismatches (at_ms);`,
	// Waiting frames are bounded in bytes too; rows from before count as empty.
	"ALTER TABLE pending_frames ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;",
	// Directory tasks move to the shared outbox (./directory.ts), in order and due at once.
	`${outboxTable};
	 INSERT INTO outbox (lane, payload, next_attempt_ms)
	   SELECT '${directoryLane}', CASE WHEN vm_id IS NULL
	       THEN json_object('kind', kind, 'domain', domain)
	       ELSE json_object('kind', kind, 'domain', domain, 'vmId', vm_id) END, 0
	   FROM directory_tasks ORDER BY seq;
	 DROP TABLE directory_tasks;`,
	// How migrations onto this host ended (./migration-outcomes.ts), kept here
	// rather than in the Fleet singleton.
	`CREATE TABLE migration_outcomes (migration_id TEXT PRIMARY KEY, failed INTEGER NOT NULL, finished_at_ms INTEGER NOT NULL);
	 CREATE INDEX migration_outcomes_failed ON migration_outcomes (failed, finished_at_ms);`,
];

/** Brings the service processor's database to the newest schema version. */
export function migrateServiceProcessor(storage: DurableObjectStorage): void {
	migrateSchema(storage, serviceProcessorSchema);
}
