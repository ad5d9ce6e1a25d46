/**
 * The steps of one function transfer (US 9,032,122 B2), each a move from one
 * persisted step to the next: reserve the target VF and compute its base and
 * offset, hold the mapping, store the new offset and lift, finish (activate
 * the target, release the source), or roll back before the hold. Each step
 * re-reads the persisted step before it writes, so the request and the alarm
 * may both drive a transfer without doing anything twice.
 */

import { log } from "../../shared/log";
import { formatHex, mappingOffset } from "../../shared/pci";
import { asProblem, Problem } from "../../shared/problem";
import type { DeviceContext } from "./context";
import { type MappingRow, mappingByKey, type TransferRow, type TransferStep } from "./rows";

/** How long a step before the hold may take before the alarm rolls it back. */
export const stepTimeoutMs = 10_000;
/** The hold's lease: past it the alarm lifts the hold itself. */
export const holdLeaseMs = 1_000;

/** Problems that mean the target reserved nothing, so the transfer never began. */
const refusals = new Set(["device_not_found", "no_free_vf", "invalid_request"]);

/**
 * Whether `error` is a target's refusal to reserve a VF: nothing was
 * reserved, so the transfer never began and another target may be tried.
 */
export function isReservationRefusal(error: unknown): boolean {
	const code = (error as { code?: unknown }).code;
	return typeof code === "string" && refusals.has(code);
}

/** The transfer as persisted now, if it began on this device. */
export function loadTransfer(sql: SqlStorage, transferId: string): TransferRow | undefined {
	return sql
		.exec<TransferRow>("SELECT * FROM transfers WHERE transfer_id = ?", transferId)
		.toArray()[0];
}

function stepIs(device: DeviceContext, transfer: TransferRow, step: TransferStep): boolean {
	return loadTransfer(device.sql, transfer.transfer_id)?.step === step;
}

function mappingAt(device: DeviceContext, key: string): MappingRow {
	const mapping = mappingByKey(device.sql, key);
	if (!mapping) throw new Error(`transfer refers to missing mapping ${key}`);
	return mapping;
}

/**
 * A target's refusal as the client sees it: the request's target is at fault,
 * not the device the transfer was sent to, whose own words would say so.
 */
function blamingTarget(error: unknown, transfer: TransferRow): unknown {
	const problem = asProblem(error);
	if (problem?.code === "device_not_found") {
		return new Problem(
			"device_not_found",
			`body.targetBdf: no PCI device ${transfer.to_bdf} on host ${transfer.to_host_id}`,
		);
	}
	if (problem?.code === "invalid_request") {
		return new Problem("invalid_request", `body.targetBdf: ${problem.message}`);
	}
	return error;
}

/** Reserves the target VF and computes base and offset; nothing is held yet. */
export async function reserveTarget(device: DeviceContext, transfer: TransferRow): Promise<void> {
	const mapping = mappingAt(device, transfer.address_key);
	const target = device.peer(transfer.to_host_id, transfer.to_bdf);
	const owner = device.identity();
	let reserved: Awaited<ReturnType<typeof target.reserveVf>>;
	try {
		reserved = await target.reserveVf({
			allocationId: transfer.transfer_id,
			vmId: mapping.vm_id,
			virtualAddress: mapping.virtual_address,
			ownerHostId: owner.hostId,
			ownerBdf: owner.bdf,
			minSize: mapping.size,
		});
	} catch (error) {
		if (isReservationRefusal(error) && stepIs(device, transfer, "reserving")) {
			device.sql.exec("DELETE FROM transfers WHERE transfer_id = ?", transfer.transfer_id);
		}
		throw blamingTarget(error, transfer);
	}
	if (!stepIs(device, transfer, "reserving")) {
		// The alarm rolled this transfer back while the reservation was in flight.
		await target.releaseVf(transfer.transfer_id);
		return;
	}
	const offset = mappingOffset(BigInt(reserved.baseAddress), BigInt(mapping.virtual_address));
	device.sql.exec(
		`UPDATE transfers SET step = 'reserved', to_vf_index = ?, to_vf_bdf = ?, to_base = ?,
			offset = ?, deadline_ms = ? WHERE transfer_id = ?`,
		reserved.vfIndex,
		reserved.vfBdf,
		reserved.baseAddress,
		formatHex(offset),
		Date.now() + stepTimeoutMs,
		transfer.transfer_id,
	);
}

/** Holds the mapping durably and tells the driver; the lift follows at once. */
export async function holdMapping(device: DeviceContext, transfer: TransferRow): Promise<void> {
	const { sql, storage } = device;
	const nowMs = Date.now();
	const mapping = mappingAt(device, transfer.address_key);
	storage.transactionSync(() => {
		sql.exec(
			"UPDATE mappings SET state = 'held', hold_transfer_id = ? WHERE address_key = ?",
			transfer.transfer_id,
			transfer.address_key,
		);
		sql.exec(
			"UPDATE transfers SET step = 'held', hold_started_ms = ?, deadline_ms = ? WHERE transfer_id = ?",
			nowMs,
			nowMs + holdLeaseMs,
			transfer.transfer_id,
		);
		device.recordEvent({
			type: "mapping.held",
			vfIndex: transfer.from_vf_index,
			virtualAddress: mapping.virtual_address,
			transferId: transfer.transfer_id,
			mappingVersion: mapping.version,
		});
		notifyDriver(device, "vf.hold", transfer, mapping, {
			hostId: transfer.from_host_id,
			bdf: transfer.from_bdf,
			vfIndex: transfer.from_vf_index,
		});
	});
	// The driver hears of the hold as soon as the service processor takes it;
	// the outbox keeps `vf.hold` ahead of the lift's `vf.lift` in that lane.
	device.outbox.flush(`agent:${device.identity().hostId}`).catch((error) => {
		log("warn", "vf.hold delivery pass failed", { error: String(error) });
	});
	// The hold window holds only the table write: once the hold's lease alarm
	// is set, the lift follows. No fsync is awaited here: the output gate keeps
	// every outgoing message (vf.hold included) until the hold is durable, and
	// a hold lost with its lift in a crash leaves a `reserved` step that rolls back.
	await device.scheduleAlarm();
}

/** Stores the new offset, bumps the version and lifts the hold, in one transaction. */
export function liftHold(device: DeviceContext, transfer: TransferRow): void {
	const { sql, storage } = device;
	const mapping = mappingAt(device, transfer.address_key);
	const nowMs = Date.now();
	const version = mapping.version + 1;
	const to = {
		hostId: transfer.to_host_id,
		bdf: transfer.to_bdf,
		vfIndex: transfer.to_vf_index ?? 0,
	};
	storage.transactionSync(() => {
		sql.exec(
			`UPDATE mappings SET target_host_id = ?, target_bdf = ?, target_vf_index = ?,
				target_allocation_id = ?, offset = ?, version = ?, state = 'active', hold_transfer_id = NULL
			 WHERE address_key = ?`,
			to.hostId,
			to.bdf,
			to.vfIndex,
			transfer.transfer_id,
			transfer.offset,
			version,
			transfer.address_key,
		);
		sql.exec(
			"UPDATE transfers SET step = 'lifted', mapping_version = ?, deadline_ms = ? WHERE transfer_id = ?",
			version,
			nowMs + stepTimeoutMs,
			transfer.transfer_id,
		);
		device.recordEvent({
			type: "mapping.lifted",
			vfIndex: transfer.from_vf_index,
			virtualAddress: mapping.virtual_address,
			transferId: transfer.transfer_id,
			durationMs: nowMs - (transfer.hold_started_ms ?? nowMs),
			mappingVersion: version,
		});
		notifyDriver(device, "vf.lift", transfer, mapping, to);
		const me = device.identity();
		device.outbox.add({
			channel: `vm:${mapping.vm_id}`,
			attach: {
				hostId: me.hostId,
				bdf: me.bdf,
				vfIndex: to.vfIndex,
				virtualAddress: mapping.virtual_address,
			},
		});
	});
	device.waiters.lifted(transfer.address_key);
}

/** Activates the target VF and releases the source slot; both idempotent. */
export async function finishTransfer(device: DeviceContext, transfer: TransferRow): Promise<void> {
	await device.peer(transfer.to_host_id, transfer.to_bdf).activateVf(transfer.transfer_id);
	await device
		.peer(transfer.from_host_id, transfer.from_bdf)
		.releaseVf(transfer.from_allocation_id);
	if (!stepIs(device, transfer, "lifted")) return;
	const nowMs = Date.now();
	device.storage.transactionSync(() => {
		device.sql.exec(
			"UPDATE transfers SET step = 'completed', finished_ms = ? WHERE transfer_id = ?",
			nowMs,
			transfer.transfer_id,
		);
		device.recordEvent({
			type: "transfer.completed",
			// The lane of the function that moved, as for its hold and lift (not the target's index).
			vfIndex: transfer.from_vf_index,
			virtualAddress: mappingAt(device, transfer.address_key).virtual_address,
			transferId: transfer.transfer_id,
			durationMs: nowMs - transfer.started_ms,
			mappingVersion: transfer.mapping_version,
		});
	});
	await device.outbox.flush();
}

/** Releases the target reservation and closes a transfer that never held the mapping. */
export async function rollBackTransfer(
	device: DeviceContext,
	transfer: TransferRow,
): Promise<void> {
	await device.peer(transfer.to_host_id, transfer.to_bdf).releaseVf(transfer.transfer_id);
	if (!stepIs(device, transfer, transfer.step)) return;
	device.storage.transactionSync(() => {
		device.sql.exec(
			"UPDATE transfers SET step = 'rolled_back', finished_ms = ? WHERE transfer_id = ?",
			Date.now(),
			transfer.transfer_id,
		);
		device.recordEvent({
			type: "transfer.rolled_back",
			vfIndex: transfer.from_vf_index,
			virtualAddress: mappingAt(device, transfer.address_key).virtual_address,
			transferId: transfer.transfer_id,
		});
	});
}

function notifyDriver(
	device: DeviceContext,
	type: "vf.hold" | "vf.lift",
	transfer: TransferRow,
	mapping: MappingRow,
	fn: { hostId: string; bdf: string; vfIndex: number },
): void {
	const me = device.identity();
	device.outbox.add({
		channel: `agent:${me.hostId}`,
		command: {
			type,
			...fn,
			vmId: mapping.vm_id,
			virtualAddress: mapping.virtual_address,
			transferId: transfer.transfer_id,
		},
	});
}
