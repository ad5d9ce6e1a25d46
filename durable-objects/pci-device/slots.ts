/**
 * VF slots of one device: the lowest free index, and where a VF sits in the
 * PCI hierarchy (its BDF from the routing-id arithmetic, its BAR base).
 */
import { formatBdf, formatHex, vfBaseAddress, vfBdf } from "../../shared/pci";
import { type DeviceRow, geometryOf, pfOf, type SlotRow } from "./rows";

/** The lowest VF index not allocated or reserved, or undefined when all are taken. */
export function lowestFreeIndex(sql: SqlStorage, device: DeviceRow): number | undefined {
	let candidate = 0;
	for (const { vf_index } of sql.exec<{ vf_index: number }>(
		"SELECT vf_index FROM slots ORDER BY vf_index",
	)) {
		if (vf_index !== candidate) break;
		candidate++;
	}
	return candidate < device.total_vfs ? candidate : undefined;
}

/** How many VF slots are allocated or reserved. */
export function slotsInUse(sql: SqlStorage): number {
	const [row] = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM slots").toArray();
	return row?.n ?? 0;
}

/** VF `index`'s BDF and BAR base address, as the contract writes them. */
export function placeVf(device: DeviceRow, index: number): { vfBdf: string; baseAddress: string } {
	const geometry = geometryOf(device);
	return {
		vfBdf: formatBdf(vfBdf(pfOf(device), geometry, index)),
		baseAddress: formatHex(vfBaseAddress(geometry, index)),
	};
}

/** The slot holding allocation `allocationId`, if any. */
export function slotByAllocation(sql: SqlStorage, allocationId: string): SlotRow | undefined {
	return sql
		.exec<SlotRow>("SELECT * FROM slots WHERE allocation_id = ?", allocationId)
		.toArray()[0];
}
