import type { VmInput } from "../../shared/schemas/vms";

/** One SP-table row, internal only (it carries the key hash). */
export interface VmRow {
	vmId: string;
	keyHash: string;
	keyVersion: number;
	memoryMiB: number;
	vcpus: number;
	enrolledAt: string;
}

/** An SP-table row as admins see it. */
export type VmView = Omit<VmRow, "keyHash">;

type Row = {
	vm_id: string;
	key_hash: string;
	key_version: number;
	memory_mib: number;
	vcpus: number;
	enrolled_at: string;
};

function toVmRow(row: Row): VmRow {
	return {
		vmId: row.vm_id,
		keyHash: row.key_hash,
		keyVersion: row.key_version,
		memoryMiB: row.memory_mib,
		vcpus: row.vcpus,
		enrolledAt: row.enrolled_at,
	};
}

/** Hides the key hash. */
export function toVmView({ keyHash: _hidden, ...view }: VmRow): VmView {
	return view;
}

/** The SP table: VM id → key hash, key version and attributes. */
export class VmTable {
	constructor(private readonly sql: SqlStorage) {}

	/**
	 * Rows already read. This class is the table's only writer and
	 * every session request reads its VM's row, so a read need not repeat.
	 * Misses are not kept: public requests may name any VM id.
	 */
	private readonly rows = new Map<string, VmRow>();

	/** The row for `vmId`, or undefined. */
	get(vmId: string): VmRow | undefined {
		const known = this.rows.get(vmId);
		if (known) return known;
		const [row] = this.sql.exec<Row>("SELECT * FROM vms WHERE vm_id = ?", vmId).toArray();
		if (!row) return undefined;
		const vm = toVmRow(row);
		this.rows.set(vmId, vm);
		return vm;
	}

	/** Every row, newest enrolment first. */
	list(): VmRow[] {
		return this.sql
			.exec<Row>("SELECT * FROM vms ORDER BY enrolled_at DESC, vm_id")
			.toArray()
			.map(toVmRow);
	}

	/** Inserts the row as given unless one exists; true when inserted. */
	insert(row: VmRow): boolean {
		const cursor = this.sql.exec(
			`INSERT INTO vms (vm_id, key_hash, key_version, memory_mib, vcpus, enrolled_at)
			 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (vm_id) DO NOTHING`,
			row.vmId,
			row.keyHash,
			row.keyVersion,
			row.memoryMiB,
			row.vcpus,
			row.enrolledAt,
		);
		return cursor.rowsWritten > 0;
	}

	/** Updates attributes (never the key). */
	update(vmId: string, input: VmInput): void {
		this.rows.delete(vmId);
		this.sql.exec(
			"UPDATE vms SET memory_mib = ?, vcpus = ? WHERE vm_id = ?",
			input.memoryMiB,
			input.vcpus,
			vmId,
		);
	}

	/** Replaces the key hash and bumps the version; returns the new version. */
	rotateKey(vmId: string, keyHash: string): number {
		this.rows.delete(vmId);
		const [row] = this.sql
			.exec<{ key_version: number }>(
				"UPDATE vms SET key_hash = ?, key_version = key_version + 1 WHERE vm_id = ? RETURNING key_version",
				keyHash,
				vmId,
			)
			.toArray();
		if (!row) throw new Error(`rotateKey: ${vmId} vanished`);
		return row.key_version;
	}

	/** Deletes the row; true when there was one. */
	delete(vmId: string): boolean {
		this.rows.delete(vmId);
		return this.sql.exec("DELETE FROM vms WHERE vm_id = ?", vmId).rowsWritten > 0;
	}
}
