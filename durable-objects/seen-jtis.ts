import { Problem } from "../shared/problem";

/** How often expired jtis are deleted. */
const sweepIntervalMs = 10_000;

/** A jti refused as a replay until `expSeconds` (its request's `exp`). */
export interface SeenJti {
	jti: string;
	expSeconds: number;
}

/**
 * The replay guard of broadcast session requests over a
 * `seen_jtis (jti, vm_id, exp_seconds)` table. Both a domain (for every
 * request it receives) and a service processor (for the VMs it holds) keep
 * one: a request sent from the edge straight to the holder skips the domain.
 */
export class SeenJtis {
	private lastSweepMs = 0;

	constructor(private readonly sql: SqlStorage) {}

	/** Records the jti; throws `replayed_request` if it was seen and its exp has not passed. */
	remember(jti: string, expSeconds: number, vmId: string): void {
		const nowMs = Date.now();
		// Expired jtis only take space; sweeping them now and then is enough.
		if (nowMs - this.lastSweepMs >= sweepIntervalMs) {
			this.sql.exec("DELETE FROM seen_jtis WHERE exp_seconds < ?", Math.floor(nowMs / 1000));
			this.lastSweepMs = nowMs;
		}
		// A jti seen before counts only while its exp has not passed, swept or not.
		const inserted = this.sql.exec(
			`INSERT INTO seen_jtis (jti, vm_id, exp_seconds) VALUES (?, ?, ?)
			 ON CONFLICT (jti) DO UPDATE SET vm_id = excluded.vm_id, exp_seconds = excluded.exp_seconds
			 WHERE seen_jtis.exp_seconds < ?`,
			jti,
			vmId,
			expSeconds,
			Math.floor(nowMs / 1000),
		).rowsWritten;
		if (inserted === 0)
			throw new Problem("replayed_request", "this request's jti was already seen");
	}

	/** The VM's jtis still refused, to hand over with the VM. */
	forVm(vmId: string): SeenJti[] {
		return this.sql
			.exec<{ jti: string; exp_seconds: number }>(
				"SELECT jti, exp_seconds FROM seen_jtis WHERE vm_id = ? AND exp_seconds >= ?",
				vmId,
				Math.floor(Date.now() / 1000),
			)
			.toArray()
			.map((row) => ({ jti: row.jti, expSeconds: row.exp_seconds }));
	}

	/** Records jtis handed over with a VM; a jti already here keeps the later exp. */
	adopt(vmId: string, jtis: SeenJti[]): void {
		for (const { jti, expSeconds } of jtis) {
			this.sql.exec(
				`INSERT INTO seen_jtis (jti, vm_id, exp_seconds) VALUES (?, ?, ?)
				 ON CONFLICT (jti) DO UPDATE SET exp_seconds = max(seen_jtis.exp_seconds, excluded.exp_seconds)`,
				jti,
				vmId,
				expSeconds,
			);
		}
	}
}
