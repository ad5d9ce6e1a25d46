/**
 * Row shapes of a PciDevice's tables, their conversion to the contract's
 * JSON, and the lookup of a mapping by key that the transfer modules share.
 * Kept apart from the object so the state machine reads as steps.
 */
import { parseBdf, parseSignedHex, type SriovGeometry } from "../../shared/pci";
import type {
	DeviceEventRecord,
	DeviceRecord,
	TableEntryRecord,
	TransferRecord,
} from "../../shared/schemas/pci";

/** `device` row. */
export interface DeviceRow extends Record<string, SqlStorageValue> {
	host_id: string;
	bdf: string;
	vendor_id: number;
	device_id: number;
	total_vfs: number;
	first_vf_offset: number;
	vf_stride: number;
	vf_bar_base: string;
	vf_bar_size: string;
	created_at: string;
	updated_at: string;
}

/** `slots` row: one allocated or reserved VF of this device. */
export interface SlotRow extends Record<string, SqlStorageValue> {
	vf_index: number;
	allocation_id: string;
	vm_id: string;
	virtual_address: string;
	owner_host_id: string;
	owner_bdf: string;
	state: "active" | "reserved";
	created_at: string;
	reserved_until_ms: number | null;
	/** Set for a function transferred here: the size of the driver's mapping it serves. */
	mapping_size: string | null;
}

/** `mappings` row: one translation-table entry of this device (the driver's device). */
export interface MappingRow extends Record<string, SqlStorageValue> {
	address_key: string;
	virtual_address: string;
	size: string;
	vm_id: string;
	target_host_id: string;
	target_bdf: string;
	target_vf_index: number;
	target_allocation_id: string;
	offset: string;
	state: "active" | "held";
	version: number;
	hold_transfer_id: string | null;
}

/** The mapping stored under `key` (its `addressKey`), if this device's table holds one. */
export function mappingByKey(sql: SqlStorage, key: string): MappingRow | undefined {
	return sql.exec<MappingRow>("SELECT * FROM mappings WHERE address_key = ?", key).toArray()[0];
}

/** Steps of a transfer, each persisted before the next begins. */
export type TransferStep =
	| "reserving"
	| "reserved"
	| "held"
	| "lifted"
	| "completed"
	| "rolled_back";

/** `transfers` row, kept by the driver's device. */
export interface TransferRow extends Record<string, SqlStorageValue> {
	transfer_id: string;
	address_key: string;
	step: TransferStep;
	from_host_id: string;
	from_bdf: string;
	from_vf_index: number;
	from_allocation_id: string;
	to_host_id: string;
	to_bdf: string;
	to_vf_index: number | null;
	to_vf_bdf: string | null;
	to_base: string | null;
	offset: string | null;
	mapping_version: number | null;
	started_ms: number;
	hold_started_ms: number | null;
	deadline_ms: number;
	finished_ms: number | null;
}

/** The SR-IOV geometry of a device row, addresses as BigInt. */
export function geometryOf(row: DeviceRow): SriovGeometry {
	return {
		totalVfs: row.total_vfs,
		firstVfOffset: row.first_vf_offset,
		vfStride: row.vf_stride,
		vfBarBase: BigInt(row.vf_bar_base),
		vfBarSize: BigInt(row.vf_bar_size),
	};
}

/** The PF's parsed BDF (rows only ever hold canonical, valid ones). */
export function pfOf(row: DeviceRow) {
	const pf = parseBdf(row.bdf);
	if (!pf) throw new Error(`stored bdf ${row.bdf} is malformed`);
	return pf;
}

const pciId = (value: number) => `0x${value.toString(16).padStart(4, "0")}`;

/** A device row as the contract shows it. */
export function deviceRecord(row: DeviceRow, vfsInUse: number): DeviceRecord {
	return {
		hostId: row.host_id,
		bdf: row.bdf,
		vendorId: pciId(row.vendor_id),
		deviceId: pciId(row.device_id),
		sriov: {
			totalVfs: row.total_vfs,
			firstVfOffset: row.first_vf_offset,
			vfStride: row.vf_stride,
			vfBarBase: row.vf_bar_base,
			vfBarSize: row.vf_bar_size,
		},
		vfsInUse,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
}

/** A mapping row as a translation-table entry. */
export function tableEntry(row: MappingRow): TableEntryRecord {
	return {
		virtualAddress: row.virtual_address,
		size: row.size,
		vmId: row.vm_id,
		target: { hostId: row.target_host_id, bdf: row.target_bdf, vfIndex: row.target_vf_index },
		offset: row.offset,
		state: row.state,
		version: row.version,
	};
}

/** The mapping's numbers for translation. */
export function mappingNumbers(row: MappingRow) {
	return {
		virtualAddress: BigInt(row.virtual_address),
		size: BigInt(row.size),
		offset: parseSignedHex(row.offset) ?? 0n,
	};
}

/** A completed transfer as the contract answers it. */
export function transferRecord(transfer: TransferRow): TransferRecord {
	return {
		transferId: transfer.transfer_id,
		state: "completed",
		from: {
			hostId: transfer.from_host_id,
			bdf: transfer.from_bdf,
			vfIndex: transfer.from_vf_index,
		},
		to: {
			hostId: transfer.to_host_id,
			bdf: transfer.to_bdf,
			vfIndex: transfer.to_vf_index ?? 0,
			vfBdf: transfer.to_vf_bdf ?? "",
			baseAddress: transfer.to_base ?? "",
		},
		offset: transfer.offset ?? "",
		mappingVersion: transfer.mapping_version ?? 0,
	};
}

/** An `events` row as the contract shows it. */
export function eventRecord(row: Record<string, SqlStorageValue>): DeviceEventRecord {
	return {
		id: row.id as number,
		type: row.type as DeviceEventRecord["type"],
		at: row.at as string,
		vfIndex: row.vf_index as number | null,
		virtualAddress: row.virtual_address as string | null,
		transferId: row.transfer_id as string | null,
		durationMs: row.duration_ms as number | null,
		mappingVersion: row.mapping_version as number | null,
	};
}
