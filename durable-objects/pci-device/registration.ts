/**
 * The physical function's own row: its registration (SR-IOV geometry that
 * may not change while VFs are allocated) and how the object reads it back.
 */
import { Problem } from "../../shared/problem";
import type { DeviceRow } from "./rows";
import { slotsInUse } from "./slots";

/** A device registration, validated by the route (canonical BDF, geometry checked). */
export interface DeviceRegistration {
	hostId: string;
	bdf: string;
	vendorId: number;
	deviceId: number;
	sriov: {
		totalVfs: number;
		firstVfOffset: number;
		vfStride: number;
		vfBarBase: string;
		vfBarSize: string;
	};
}

/** The device row, or undefined while this object holds no registered device. */
export function readDevice(sql: SqlStorage): DeviceRow | undefined {
	return sql.exec<DeviceRow>("SELECT * FROM device").toArray()[0];
}

/** The device row; `device_not_found` when unregistered. */
export function requireDevice(sql: SqlStorage): DeviceRow {
	const device = readDevice(sql);
	if (!device) throw new Problem("device_not_found", "no such PCI device on this host");
	return device;
}

/**
 * Inserts or updates the device row; refuses a geometry change while VFs are
 * allocated. Returns whether the device existed before.
 */
export function writeRegistration(sql: SqlStorage, input: DeviceRegistration): boolean {
	const existing = readDevice(sql);
	const nowIso = new Date().toISOString();
	if (existing && slotsInUse(sql) > 0 && !sameGeometry(existing, input.sriov)) {
		throw new Problem(
			"invalid_request",
			"body.sriov: the SR-IOV geometry cannot change while virtual functions are allocated",
		);
	}
	const { sriov } = input;
	sql.exec(
		`INSERT INTO device (singleton, host_id, bdf, vendor_id, device_id, total_vfs, first_vf_offset,
			vf_stride, vf_bar_base, vf_bar_size, created_at, updated_at)
		 VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (singleton) DO UPDATE SET vendor_id = excluded.vendor_id, device_id = excluded.device_id,
			total_vfs = excluded.total_vfs, first_vf_offset = excluded.first_vf_offset,
			vf_stride = excluded.vf_stride, vf_bar_base = excluded.vf_bar_base,
			vf_bar_size = excluded.vf_bar_size, updated_at = excluded.updated_at`,
		input.hostId,
		input.bdf,
		input.vendorId,
		input.deviceId,
		sriov.totalVfs,
		sriov.firstVfOffset,
		sriov.vfStride,
		sriov.vfBarBase,
		sriov.vfBarSize,
		nowIso,
		nowIso,
	);
	return existing !== undefined;
}

function sameGeometry(row: DeviceRow, sriov: DeviceRegistration["sriov"]): boolean {
	return (
		row.total_vfs === sriov.totalVfs &&
		row.first_vf_offset === sriov.firstVfOffset &&
		row.vf_stride === sriov.vfStride &&
		row.vf_bar_base === sriov.vfBarBase &&
		row.vf_bar_size === sriov.vfBarSize
	);
}
