import { keyLockoutPolicy, type LockoutState, lockoutState } from "../../shared/lockout";

/**
 * The VM-key back-off's memory: when each key mismatch happened, per VM and
 * client address (API.md: a lockout holds for the address that failed, so
 * strangers who know a VM id cannot lock its owner out). The rows travel
 * with their VM when it moves, and a rotation or an admin clears them.
 */

/** One recorded mismatch, as handed off with its VM. */
export interface KeyMismatch {
	client: string;
	atMs: number;
}

export class KeyLockouts {
	constructor(private readonly sql: SqlStorage) {}

	/** Whether `client` is locked out of `vmId` at `nowMs`. */
	state(vmId: string, client: string, nowMs: number): LockoutState {
		const times = this.sql
			.exec<{ at_ms: number }>(
				"SELECT at_ms FROM key_mismatches WHERE vm_id = ? AND client = ? AND at_ms > ?",
				vmId,
				client,
				nowMs - keyLockoutPolicy.windowMs,
			)
			.toArray()
			.map((row) => row.at_ms);
		return lockoutState(times, nowMs);
	}

	/** Records a mismatch; returns the state it leaves `client` in. */
	recordMismatch(vmId: string, client: string, nowMs: number): LockoutState {
		// Mismatches outside the window no longer count; pruned here, off the happy path.
		this.sql.exec("DELETE FROM key_mismatches WHERE at_ms <= ?", nowMs - keyLockoutPolicy.windowMs);
		this.sql.exec(
			"INSERT INTO key_mismatches (vm_id, client, at_ms) VALUES (?, ?, ?)",
			vmId,
			client,
			nowMs,
		);
		return this.state(vmId, client, nowMs);
	}

	/** Forgets every mismatch for the VM; returns how many addresses were locked out. */
	clear(vmId: string, nowMs = Date.now()): number {
		const locked = this.clients(vmId).filter(
			(client) => this.state(vmId, client, nowMs).locked,
		).length;
		this.sql.exec("DELETE FROM key_mismatches WHERE vm_id = ?", vmId);
		return locked;
	}

	/** The VM's mismatches still inside the window, to hand over with the VM. */
	forVm(vmId: string, nowMs = Date.now()): KeyMismatch[] {
		return this.sql
			.exec<{ client: string; at_ms: number }>(
				"SELECT client, at_ms FROM key_mismatches WHERE vm_id = ? AND at_ms > ?",
				vmId,
				nowMs - keyLockoutPolicy.windowMs,
			)
			.toArray()
			.map((row) => ({ client: row.client, atMs: row.at_ms }));
	}

	/** Records mismatches handed over with a VM; adopting the same handoff twice adds nothing. */
	adopt(vmId: string, mismatches: readonly KeyMismatch[]): void {
		for (const { client, atMs } of mismatches) {
			this.sql.exec(
				`INSERT INTO key_mismatches (vm_id, client, at_ms) SELECT ?, ?, ?
				 WHERE NOT EXISTS (SELECT 1 FROM key_mismatches WHERE vm_id = ? AND client = ? AND at_ms = ?)`,
				vmId,
				client,
				atMs,
				vmId,
				client,
				atMs,
			);
		}
	}

	private clients(vmId: string): string[] {
		return this.sql
			.exec<{ client: string }>("SELECT DISTINCT client FROM key_mismatches WHERE vm_id = ?", vmId)
			.toArray()
			.map((row) => row.client);
	}
}
