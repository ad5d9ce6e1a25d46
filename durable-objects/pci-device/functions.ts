/**
 * Virtual-function slots and the mappings made through them: creating a VF
 * for a driver (slot, translation entry and the VM's attached-function record
 * in one transaction), and the reserve → activate | release life of a VF that
 * arrives by transfer. Every operation keyed by allocation id is idempotent.
 */
import { addressKey, formatHex, mappingOffset, rangeFits } from "../../shared/pci";
import { Problem } from "../../shared/problem";
import type { CreatedVfRecord } from "../../shared/schemas/pci";
import type { DeviceContext, ReservedVf, ReserveRequest } from "./context";
import type { DeviceRow, MappingRow, SlotRow } from "./rows";
import { lowestFreeIndex, placeVf, slotByAllocation } from "./slots";

/** How long a reservation waits for its transfer before the target asks the driver's device. */
export const reservationLeaseMs = 30_000;

function freeIndexOrRefuse(sql: SqlStorage, device: DeviceRow): number {
	const vfIndex = lowestFreeIndex(sql, device);
	if (vfIndex === undefined) {
		throw new Problem(
			"no_free_vf",
			`all ${device.total_vfs} virtual functions of ${device.bdf} are in use`,
		);
	}
	return vfIndex;
}

function insertSlot(
	sql: SqlStorage,
	slot: {
		vfIndex: number;
		allocationId: string;
		vmId: string;
		virtualAddress: string;
		mappingSize?: string;
	},
	owner: { hostId: string; bdf: string },
	state: "active" | "reserved",
): void {
	sql.exec(
		`INSERT INTO slots (vf_index, allocation_id, vm_id, virtual_address, owner_host_id, owner_bdf, state,
			created_at, reserved_until_ms, mapping_size)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		slot.vfIndex,
		slot.allocationId,
		slot.vmId,
		slot.virtualAddress,
		owner.hostId,
		owner.bdf,
		state,
		new Date().toISOString(),
		state === "reserved" ? Date.now() + reservationLeaseMs : null,
		slot.mappingSize ?? null,
	);
}

/** The mapping with the greatest start ≤ `address` (mappings never overlap). */
export function mappingCovering(sql: SqlStorage, address: bigint): MappingRow | undefined {
	return sql
		.exec<MappingRow>(
			"SELECT * FROM mappings WHERE address_key <= ? ORDER BY address_key DESC LIMIT 1",
			addressKey(address),
		)
		.toArray()[0];
}

/**
 * Creates a VF for `vmId` in the lowest free slot and maps `virtualAddress`
 * (a parsed address) to its BAR; the VM's object is told through the outbox.
 */
export function createFunction(
	context: DeviceContext,
	device: DeviceRow,
	vm: { vmId: string; onHost: boolean },
	virtualAddress: bigint,
): CreatedVfRecord {
	const { vmId } = vm;
	const { sql } = context;
	const size = BigInt(device.vf_bar_size);
	if (!rangeFits(virtualAddress, size)) {
		throw new Problem("invalid_request", "body.virtualAddress: the mapping would run past 64 bits");
	}
	const overlapping = mappingCovering(sql, virtualAddress + size - 1n);
	if (
		overlapping &&
		BigInt(overlapping.virtual_address) + BigInt(overlapping.size) > virtualAddress
	) {
		throw new Problem(
			"invalid_request",
			`body.virtualAddress: the range overlaps the mapping at ${overlapping.virtual_address}`,
		);
	}
	// After the address checks: a bad request is named as such even on a full device.
	if (!vm.onHost) {
		throw new Problem("vm_not_found", `no VM ${vmId} in host ${device.host_id}'s SP table`);
	}
	const vfIndex = freeIndexOrRefuse(sql, device);
	const { vfBdf, baseAddress } = placeVf(device, vfIndex);
	const offset = formatHex(mappingOffset(BigInt(baseAddress), virtualAddress));
	const canonicalAddress = formatHex(virtualAddress);
	const allocationId = crypto.randomUUID();
	const owner = { hostId: device.host_id, bdf: device.bdf };
	context.storage.transactionSync(() => {
		insertSlot(
			sql,
			{ vfIndex, allocationId, vmId, virtualAddress: canonicalAddress },
			owner,
			"active",
		);
		sql.exec(
			`INSERT INTO mappings (address_key, virtual_address, size, vm_id, target_host_id, target_bdf,
				target_vf_index, target_allocation_id, offset, state, version)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 1)`,
			addressKey(virtualAddress),
			canonicalAddress,
			formatHex(size),
			vmId,
			owner.hostId,
			owner.bdf,
			vfIndex,
			allocationId,
			offset,
		);
		context.recordEvent({
			type: "vf.created",
			vfIndex,
			virtualAddress: canonicalAddress,
			mappingVersion: 1,
		});
		context.outbox.add({
			channel: `vm:${vmId}`,
			attach: { ...owner, vfIndex, virtualAddress: canonicalAddress },
		});
	});
	return {
		vfIndex,
		vfBdf,
		baseAddress,
		mapping: {
			virtualAddress: canonicalAddress,
			size: formatHex(size),
			offset,
			state: "active",
			version: 1,
		},
	};
}

/** Reserves a VF for an incoming transfer; the same `allocationId` gets the same VF. */
export function reserveFunction(
	context: DeviceContext,
	device: DeviceRow,
	request: ReserveRequest,
): ReservedVf {
	const held = slotByAllocation(context.sql, request.allocationId);
	if (held) return { vfIndex: held.vf_index, ...placeVf(device, held.vf_index) };
	if (BigInt(device.vf_bar_size) < BigInt(request.minSize)) {
		throw new Problem(
			"invalid_request",
			`the VF BARs of ${device.bdf} are smaller than the mapping`,
		);
	}
	const vfIndex = freeIndexOrRefuse(context.sql, device);
	context.storage.transactionSync(() => {
		insertSlot(
			context.sql,
			{
				vfIndex,
				allocationId: request.allocationId,
				vmId: request.vmId,
				virtualAddress: request.virtualAddress,
				mappingSize: request.minSize,
			},
			{ hostId: request.ownerHostId, bdf: request.ownerBdf },
			"reserved",
		);
		context.recordEvent({
			type: "vf.reserved",
			vfIndex,
			virtualAddress: request.virtualAddress,
			transferId: request.allocationId,
		});
	});
	return { vfIndex, ...placeVf(device, vfIndex) };
}

/** Turns a reservation into an allocated VF (idempotent). */
export function activateFunction(context: DeviceContext, allocationId: string): void {
	const slot = slotByAllocation(context.sql, allocationId);
	if (!slot || slot.state === "active") return;
	context.storage.transactionSync(() => {
		context.sql.exec(
			"UPDATE slots SET state = 'active', reserved_until_ms = NULL WHERE allocation_id = ?",
			allocationId,
		);
		context.recordEvent({
			type: "vf.activated",
			vfIndex: slot.vf_index,
			virtualAddress: slot.virtual_address,
			transferId: allocationId,
		});
	});
}

/** Frees the slot of an allocation or reservation (idempotent; a reused index is untouched). */
export function releaseFunction(context: DeviceContext, allocationId: string): void {
	const slot = slotByAllocation(context.sql, allocationId);
	if (!slot) return;
	context.storage.transactionSync(() => {
		context.sql.exec("DELETE FROM slots WHERE allocation_id = ?", allocationId);
		context.recordEvent({
			type: "vf.released",
			vfIndex: slot.vf_index,
			virtualAddress: slot.virtual_address,
		});
	});
}

/** When the earliest reservation lease runs out, if any reservation is open. */
export function nextReservationExpiryMs(sql: SqlStorage): number | undefined {
	const [row] = sql
		.exec<{ due: number | null }>(
			"SELECT MIN(reserved_until_ms) AS due FROM slots WHERE state = 'reserved'",
		)
		.toArray();
	return row?.due ?? undefined;
}

/**
 * Settles every reservation whose lease ran out by asking the driver's device
 * how its transfer ended: lifted or completed → activate; rolled back or never
 * begun there (a reservation that landed after a rollback) → release; still
 * running or unreachable → ask again after another lease.
 */
export async function settleExpiredReservations(
	context: DeviceContext,
	stepOf: (owner: { hostId: string; bdf: string }, transferId: string) => Promise<string | null>,
): Promise<void> {
	const expired = context.sql
		.exec<SlotRow>(
			"SELECT * FROM slots WHERE state = 'reserved' AND reserved_until_ms <= ?",
			Date.now(),
		)
		.toArray();
	for (const slot of expired) {
		let step: string | null | undefined;
		try {
			step = await stepOf({ hostId: slot.owner_host_id, bdf: slot.owner_bdf }, slot.allocation_id);
		} catch {
			step = undefined;
		}
		if (step === "lifted" || step === "completed") activateFunction(context, slot.allocation_id);
		else if (step === null || step === "rolled_back") releaseFunction(context, slot.allocation_id);
		else {
			context.sql.exec(
				"UPDATE slots SET reserved_until_ms = ? WHERE allocation_id = ?",
				Date.now() + reservationLeaseMs,
				slot.allocation_id,
			);
		}
	}
}

/**
 * The driver's device of a function that was transferred to this device and
 * whose mapping covers `address`, so a translate sent to the device now
 * serving a function can be answered by the table that holds its mapping.
 * Each driver's table is its own address space: where two served mappings
 * cover the address, the one starting closest below it is chosen. Undefined
 * when no function here serves the address.
 */
export function ownerServedHere(
	sql: SqlStorage,
	device: DeviceRow,
	address: bigint,
): { hostId: string; bdf: string } | undefined {
	let closest: { start: bigint; hostId: string; bdf: string } | undefined;
	for (const slot of sql.exec<SlotRow>(
		"SELECT * FROM slots WHERE state = 'active' AND NOT (owner_host_id = ? AND owner_bdf = ?)",
		device.host_id,
		device.bdf,
	)) {
		const start = BigInt(slot.virtual_address);
		// Slots from before sizes were kept: the mapping is at most this device's BAR.
		const size = BigInt(slot.mapping_size ?? device.vf_bar_size);
		const covers = start <= address && address < start + size;
		if (covers && (!closest || start > closest.start)) {
			closest = { start, hostId: slot.owner_host_id, bdf: slot.owner_bdf };
		}
	}
	return closest && { hostId: closest.hostId, bdf: closest.bdf };
}
