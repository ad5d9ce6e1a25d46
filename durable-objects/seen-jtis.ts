import { Problem } from "../shared/problem";

/** How often expired jtis are deleted. */
const sweepIntervalMs = 10_000;

/**
 * Schema step (for every object that keeps a guard) from `seen_jtis` keyed
 * by jti alone to one keyed per VM. Rows from before a VM was recorded keep
 * an empty VM id: no request matches them any more, and they are swept at
 * their exp (at most 300 s away), like every row.
 */
export const seenJtisPerVm = `CREATE TABLE seen_jtis_per_vm (
		vm_id TEXT NOT NULL, jti TEXT NOT NULL, exp_seconds INTEGER NOT NULL,
		PRIMARY KEY (vm_id, jti)
	);
	INSERT INTO seen_jtis_per_vm (vm_id, jti, exp_seconds)
		SELECT COALESCE(vm_id, ''), jti, exp_seconds FROM seen_jtis;
	DROP TABLE seen_jtis;
	ALTER TABLE seen_jtis_per_vm RENAME TO seen_jtis;
	CREATE INDEX seen_jtis_by_exp ON seen_jtis (exp_seconds);`;

/** A jti refused as a replay until `expSeconds` (its request's `exp`). */
export interface SeenJti {
	jti: string;
	expSeconds: number;
}

/**
 * The replay guard of broadcast session requests over a
 * `seen_jtis (vm_id, jti, exp_seconds)` table. A jti is judged per VM: a
 * replay repeats a captured request, whose VM it cannot change (the claims
 * are encrypted), so the guard lives with the VM: its holder keeps the jtis
 * of its VMs (handed over when a VM moves), and a domain keeps those of the
 * requests it receives for VMs a member holds (made-up ids cost it nothing). Keyed by VM,
 * both give the same answer, so a request from the edge straight to the
 * holder is judged as one through the domain would be.
 */
export class SeenJtis {
	private lastSweepMs = 0;

	constructor(private readonly sql: SqlStorage) {}

	/** Records the VM's jti; throws `replayed_request` if it was seen for the VM and its exp has not passed. */
	remember(jti: string, expSeconds: number, vmId: string): void {
		const nowMs = Date.now();
		// Expired jtis only take space; sweeping them now and then is enough.
		if (nowMs - this.lastSweepMs >= sweepIntervalMs) {
			this.sql.exec("DELETE FROM seen_jtis WHERE exp_seconds < ?", Math.floor(nowMs / 1000));
			this.lastSweepMs = nowMs;
		}
		// A jti seen before counts only while its exp has not passed, swept or not.
		const inserted = this.sql.exec(
			`INSERT INTO seen_jtis (vm_id, jti, exp_seconds) VALUES (?, ?, ?)
			 ON CONFLICT (vm_id, jti) DO UPDATE SET exp_seconds = excluded.exp_seconds
			 WHERE seen_jtis.exp_seconds < ?`,
			vmId,
			jti,
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
				`INSERT INTO seen_jtis (vm_id, jti, exp_seconds) VALUES (?, ?, ?)
				 ON CONFLICT (vm_id, jti) DO UPDATE SET exp_seconds = max(seen_jtis.exp_seconds, excluded.exp_seconds)`,
				vmId,
				jti,
				expSeconds,
			);
		}
	}
}
