/**
 * The service processor's audit trail. Events keep the id check and the key
 * check apart (API.md, patent 1: the user side is secured before the key is
 * compared). Details never carry a key, hash or token.
 */

/** Every kind of event the trail records. */
export type AuditEventType =
	| "vm.enrolled"
	| "vm.updated"
	| "vm.key_rotated"
	| "vm.removed"
	| "vm.adopted"
	| "vm.released"
	| "vm.lockouts_cleared"
	| "session.requested"
	| "session.id_matched"
	| "session.key_matched"
	| "session.key_mismatched"
	| "session.locked_out"
	| "channel.user_attached"
	| "channel.vm_attached"
	| "session.established"
	| "session.vm_moving"
	| "session.vm_reattached"
	| "session.closed"
	| "viewer.attached"
	| "viewer.detached"
	| "recording.truncated"
	| "recording.stored";

/** One audit event as the admin route returns it. */
export interface AuditEvent {
	id: number;
	at: string;
	type: AuditEventType;
	sessionId: string | null;
	vmId: string | null;
	detail: Record<string, unknown> | null;
}

type AuditRow = {
	id: number;
	at: string;
	type: AuditEventType;
	session_id: string | null;
	vm_id: string | null;
	detail: string | null;
};

/** Appends to and reads the audit table. */
export class AuditTrail {
	constructor(private readonly sql: SqlStorage) {}

	/** Rows recorded inside `batch`, written when it ends. */
	private batched: Array<Array<string | null>> | undefined;

	/** Records one event now (or at the end of the enclosing `batch`). */
	record(
		type: AuditEventType,
		fields: { sessionId?: string; vmId?: string; detail?: Record<string, unknown> } = {},
	): void {
		const row = [
			new Date().toISOString(),
			type,
			fields.sessionId ?? null,
			fields.vmId ?? null,
			fields.detail ? JSON.stringify(fields.detail) : null,
		];
		if (this.batched) this.batched.push(row);
		else this.insert([row]);
	}

	/**
	 * Runs `work` (synchronous) and writes the events it records in one
	 * statement when it returns or throws: a session request records up to
	 * four, and a statement each showed in its cost.
	 */
	batch<T>(work: () => T): T {
		if (this.batched) return work();
		this.batched = [];
		try {
			return work();
		} finally {
			const rows = this.batched;
			this.batched = undefined;
			if (rows.length > 0) this.insert(rows);
		}
	}

	private insert(rows: Array<Array<string | null>>): void {
		this.sql.exec(
			`INSERT INTO audit (at, type, session_id, vm_id, detail) VALUES ${rows.map(() => "(?, ?, ?, ?, ?)").join(", ")}`,
			...rows.flat(),
		);
	}

	/** The newest `limit` events, newest first. */
	list(limit: number): AuditEvent[] {
		return this.sql
			.exec<AuditRow>("SELECT * FROM audit ORDER BY id DESC LIMIT ?", limit)
			.toArray()
			.map((row) => ({
				id: row.id,
				at: row.at,
				type: row.type,
				sessionId: row.session_id,
				vmId: row.vm_id,
				detail: row.detail ? (JSON.parse(row.detail) as Record<string, unknown>) : null,
			}));
	}
}
