/**
 * The function-transfer sequence of US 9,032,122 B2, run by the device that
 * holds the driver's mapping: reserve a VF on the target device (idempotent by
 * transfer id) and compute its base and offset, then hold the mapping, store
 * the new offset with a bumped version, lift, and release the source slot.
 *
 * Every step is persisted before the next begins, and every step re-reads the
 * persisted step before writing, so the request that started a transfer and
 * the alarm that resumes it after a stall or an eviction can both drive it
 * without doing anything twice. Before the hold a stalled transfer rolls back
 * (the target reservation is released); from the hold on it completes, because
 * everything the lift needs was computed before the hold.
 */

import { addressKey, formatHex, mappingOffset } from "../../shared/pci";
import { Problem } from "../../shared/problem";
import { log } from "../../workers/log";
import type { DeviceContext } from "./context";
import type { MappingRow, TransferRow, TransferStep } from "./rows";

/** How long a step before the hold may take before the alarm rolls it back. */
export const stepTimeoutMs = 10_000;
/** The hold's lease: past it the alarm lifts the hold itself. */
export const holdLeaseMs = 1_000;
/** Back-off before the alarm retries a step whose peer was unreachable. */
const retryMs = 1_000;

/** Where a transfer starts and where it goes. */
export interface TransferOrder {
	virtualAddress: string;
	transferId: string;
	targetHostId: string;
	targetBdf: string;
	/** The allocation the caller believes serves the mapping now; refused if stale. */
	fromAllocationId?: string;
}

/** Problems that mean the target reserved nothing, so the transfer never began. */
const refusals = new Set(["device_not_found", "no_free_vf", "invalid_request"]);

/** Runs and resumes transfers for one device's translation table. */
export class TransferEngine {
	/** Transfers a live request is driving now (the alarm leaves them alone until their deadline). */
	readonly #running = new Set<string>();
	/** One transfer at a time per mapping, in arrival order. */
	readonly #queues = new Map<string, Promise<unknown>>();

	constructor(private readonly device: DeviceContext) {}

	/**
	 * Starts (or joins) a transfer and drives it until `untilStep` (default:
	 * completion). Stopping early leaves it marked as in flight, exactly like a
	 * request stalled on a peer: only its deadline or an eviction lets the alarm
	 * take over (recovery tests use this).
	 */
	async run(order: TransferOrder, untilStep: TransferStep = "completed"): Promise<TransferRow> {
		const key = addressKey(BigInt(order.virtualAddress));
		const previous = this.#queues.get(key) ?? Promise.resolve();
		const mine = previous.catch(() => {}).then(() => this.#start(order, key, untilStep));
		this.#queues.set(key, mine);
		try {
			return await mine;
		} finally {
			if (this.#queues.get(key) === mine) this.#queues.delete(key);
		}
	}

	async #start(order: TransferOrder, key: string, untilStep: TransferStep): Promise<TransferRow> {
		this.#running.add(order.transferId);
		try {
			if (!this.#load(order.transferId)) {
				this.#create(order, key);
				await this.device.scheduleAlarm();
			}
			const reached = await this.#drive(order.transferId, untilStep);
			if (reached.step === "completed") this.#running.delete(order.transferId);
			return reached;
		} catch (error) {
			this.#running.delete(order.transferId);
			throw error;
		}
	}

	#create(order: TransferOrder, key: string): void {
		const { sql } = this.device;
		const [mapping] = sql
			.exec<MappingRow>("SELECT * FROM mappings WHERE address_key = ?", key)
			.toArray();
		if (!mapping) throw new Problem("not_found", `no mapping at ${order.virtualAddress}`);
		if (order.fromAllocationId && mapping.target_allocation_id !== order.fromAllocationId) {
			throw new Problem("not_found", "that virtual function no longer serves the mapping");
		}
		const nowMs = Date.now();
		sql.exec(
			`INSERT INTO transfers (transfer_id, address_key, step, from_host_id, from_bdf, from_vf_index,
				from_allocation_id, to_host_id, to_bdf, started_ms, deadline_ms)
			 VALUES (?, ?, 'reserving', ?, ?, ?, ?, ?, ?, ?, ?)`,
			order.transferId,
			key,
			mapping.target_host_id,
			mapping.target_bdf,
			mapping.target_vf_index,
			mapping.target_allocation_id,
			order.targetHostId,
			order.targetBdf,
			nowMs,
			nowMs + stepTimeoutMs,
		);
	}

	async #drive(transferId: string, untilStep: TransferStep): Promise<TransferRow> {
		for (;;) {
			const transfer = this.#require(transferId);
			if (transfer.step === untilStep || transfer.step === "completed") return transfer;
			switch (transfer.step) {
				case "reserving":
					await this.#reserve(transfer);
					break;
				case "reserved":
					await this.#hold(transfer);
					break;
				case "held":
					this.#lift(transfer);
					break;
				case "lifted":
					await this.#finish(transfer);
					break;
				case "rolled_back":
					throw new Problem("internal", `transfer ${transferId} was rolled back`);
			}
			// Each persisted step has its own deadline; the alarm must follow it
			// (the hold sets its lease alarm itself, inside the hold window).
			if (transfer.step !== "reserved") await this.device.scheduleAlarm();
		}
	}

	/** Reserves the target VF and computes base and offset; nothing is held yet. */
	async #reserve(transfer: TransferRow): Promise<void> {
		const mapping = this.#mapping(transfer.address_key);
		const target = this.device.peer(transfer.to_host_id, transfer.to_bdf);
		let reserved: Awaited<ReturnType<typeof target.reserveVf>>;
		try {
			reserved = await target.reserveVf({
				allocationId: transfer.transfer_id,
				vmId: mapping.vm_id,
				virtualAddress: mapping.virtual_address,
				ownerHostId: this.device.identity().hostId,
				ownerBdf: this.device.identity().bdf,
				minSize: mapping.size,
			});
		} catch (error) {
			const code = (error as { code?: unknown }).code;
			if (typeof code === "string" && refusals.has(code) && this.#stepIs(transfer, "reserving")) {
				this.device.sql.exec("DELETE FROM transfers WHERE transfer_id = ?", transfer.transfer_id);
			}
			throw error;
		}
		if (!this.#stepIs(transfer, "reserving")) {
			// The alarm rolled this transfer back while the reservation was in flight.
			await target.releaseVf(transfer.transfer_id);
			return;
		}
		const offset = mappingOffset(BigInt(reserved.baseAddress), BigInt(mapping.virtual_address));
		this.device.sql.exec(
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
	async #hold(transfer: TransferRow): Promise<void> {
		const { sql, storage } = this.device;
		const nowMs = Date.now();
		const mapping = this.#mapping(transfer.address_key);
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
			this.device.recordEvent({
				type: "mapping.held",
				vfIndex: transfer.from_vf_index,
				virtualAddress: mapping.virtual_address,
				transferId: transfer.transfer_id,
				mappingVersion: mapping.version,
			});
			this.#notifyDriver("vf.hold", transfer, mapping, {
				hostId: transfer.from_host_id,
				bdf: transfer.from_bdf,
				vfIndex: transfer.from_vf_index,
			});
		});
		// The driver hears of the hold as soon as the service processor takes it;
		// the outbox keeps `vf.hold` ahead of the lift's `vf.lift` on that channel.
		this.device.outbox.flushChannel(`agent:${this.device.identity().hostId}`).catch((error) => {
			log("warn", "vf.hold delivery pass failed", { error: String(error) });
		});
		// The hold window holds only the table write: once the hold's lease alarm
		// is set, the lift follows. No fsync is awaited here: the output gate keeps
		// every outgoing message (vf.hold included) until the hold is durable, and
		// a hold lost with its lift in a crash leaves a `reserved` step that rolls back.
		await this.device.scheduleAlarm();
	}

	/** Stores the new offset, bumps the version and lifts the hold, in one transaction. */
	#lift(transfer: TransferRow): void {
		const { sql, storage } = this.device;
		const mapping = this.#mapping(transfer.address_key);
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
			this.device.recordEvent({
				type: "mapping.lifted",
				vfIndex: transfer.from_vf_index,
				virtualAddress: mapping.virtual_address,
				transferId: transfer.transfer_id,
				durationMs: nowMs - (transfer.hold_started_ms ?? nowMs),
				mappingVersion: version,
			});
			this.#notifyDriver("vf.lift", transfer, mapping, to);
			const me = this.device.identity();
			this.device.outbox.add(
				{
					channel: `vm:${mapping.vm_id}`,
					attach: {
						hostId: me.hostId,
						bdf: me.bdf,
						vfIndex: to.vfIndex,
						virtualAddress: mapping.virtual_address,
					},
				},
				nowMs,
			);
		});
		this.device.waiters.lifted(transfer.address_key);
	}

	/** Activates the target VF and releases the source slot; both idempotent. */
	async #finish(transfer: TransferRow): Promise<void> {
		await this.device.peer(transfer.to_host_id, transfer.to_bdf).activateVf(transfer.transfer_id);
		await this.device
			.peer(transfer.from_host_id, transfer.from_bdf)
			.releaseVf(transfer.from_allocation_id);
		if (!this.#stepIs(transfer, "lifted")) return;
		const nowMs = Date.now();
		this.device.storage.transactionSync(() => {
			this.device.sql.exec(
				"UPDATE transfers SET step = 'completed', finished_ms = ? WHERE transfer_id = ?",
				nowMs,
				transfer.transfer_id,
			);
			this.device.recordEvent({
				type: "transfer.completed",
				vfIndex: transfer.to_vf_index,
				virtualAddress: this.#mapping(transfer.address_key).virtual_address,
				transferId: transfer.transfer_id,
				durationMs: nowMs - transfer.started_ms,
				mappingVersion: transfer.mapping_version,
			});
		});
		await this.device.outbox.flush();
	}

	/** Releases the target reservation and closes a transfer that never held the mapping. */
	async #rollBack(transfer: TransferRow): Promise<void> {
		await this.device.peer(transfer.to_host_id, transfer.to_bdf).releaseVf(transfer.transfer_id);
		if (!this.#stepIs(transfer, transfer.step)) return;
		this.device.storage.transactionSync(() => {
			this.device.sql.exec(
				"UPDATE transfers SET step = 'rolled_back', finished_ms = ? WHERE transfer_id = ?",
				Date.now(),
				transfer.transfer_id,
			);
			this.device.recordEvent({
				type: "transfer.rolled_back",
				vfIndex: transfer.from_vf_index,
				virtualAddress: this.#mapping(transfer.address_key).virtual_address,
				transferId: transfer.transfer_id,
			});
		});
	}

	/**
	 * The alarm's part: every open transfer no live request is driving (or whose
	 * deadline passed) rolls back before the hold and completes from it.
	 */
	async resumeStalled(): Promise<void> {
		const open = this.device.sql
			.exec<TransferRow>("SELECT * FROM transfers WHERE step NOT IN ('completed', 'rolled_back')")
			.toArray();
		for (const transfer of open) {
			if (this.#running.has(transfer.transfer_id) && Date.now() < transfer.deadline_ms) continue;
			try {
				if (transfer.step === "reserving" || transfer.step === "reserved")
					await this.#rollBack(transfer);
				else await this.#drive(transfer.transfer_id, "completed");
			} catch (error) {
				log("warn", "transfer step failed; retrying later", {
					transferId: transfer.transfer_id,
					step: transfer.step,
					error: error instanceof Error ? error.message : String(error),
				});
				this.device.sql.exec(
					"UPDATE transfers SET deadline_ms = ? WHERE transfer_id = ?",
					Date.now() + retryMs,
					transfer.transfer_id,
				);
			}
		}
	}

	/** The step `transferId` has reached, or null when it never began here. */
	stepOf(transferId: string): TransferStep | null {
		return this.#load(transferId)?.step ?? null;
	}

	/** When the alarm must next look at an open transfer, if any. */
	nextDeadlineMs(): number | undefined {
		const [row] = this.device.sql
			.exec<{ due: number | null }>(
				"SELECT MIN(deadline_ms) AS due FROM transfers WHERE step NOT IN ('completed', 'rolled_back')",
			)
			.toArray();
		return row?.due ?? undefined;
	}

	#notifyDriver(
		type: "vf.hold" | "vf.lift",
		transfer: TransferRow,
		mapping: MappingRow,
		fn: { hostId: string; bdf: string; vfIndex: number },
	): void {
		const me = this.device.identity();
		this.device.outbox.add(
			{
				channel: `agent:${me.hostId}`,
				command: {
					type,
					...fn,
					vmId: mapping.vm_id,
					virtualAddress: mapping.virtual_address,
					transferId: transfer.transfer_id,
				},
			},
			Date.now(),
		);
	}

	#load(transferId: string): TransferRow | undefined {
		return this.device.sql
			.exec<TransferRow>("SELECT * FROM transfers WHERE transfer_id = ?", transferId)
			.toArray()[0];
	}

	#require(transferId: string): TransferRow {
		const transfer = this.#load(transferId);
		if (!transfer) throw new Problem("not_found", `no transfer ${transferId}`);
		return transfer;
	}

	#stepIs(transfer: TransferRow, step: TransferStep): boolean {
		return this.#load(transfer.transfer_id)?.step === step;
	}

	#mapping(key: string): MappingRow {
		const [mapping] = this.device.sql
			.exec<MappingRow>("SELECT * FROM mappings WHERE address_key = ?", key)
			.toArray();
		if (!mapping) throw new Error(`transfer refers to missing mapping ${key}`);
		return mapping;
	}
}
