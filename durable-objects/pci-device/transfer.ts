/**
 * The function-transfer sequence of US 9,032,122 B2, run by the device that
 * holds the driver's mapping: reserve a VF on the target device (idempotent by
 * transfer id) and compute its base and offset, then hold the mapping, store
 * the new offset with a bumped version, lift, and release the source slot
 * (the steps themselves are in ./transfer-steps.ts; this module orders them).
 *
 * Every step is persisted before the next begins, and every step re-reads the
 * persisted step before writing, so the request that started a transfer and
 * the alarm that resumes it after a stall or an eviction can both drive it
 * without doing anything twice. Before the hold a stalled transfer rolls back
 * (the target reservation is released); from the hold on it completes, because
 * everything the lift needs was computed before the hold.
 */

import { log } from "../../shared/log";
import { addressKey } from "../../shared/pci";
import { Problem } from "../../shared/problem";
import type { DeviceContext, TransferOrder } from "./context";
import { mappingByKey, type TransferRow, type TransferStep } from "./rows";
import {
	finishTransfer,
	holdMapping,
	liftHold,
	loadTransfer,
	reserveTarget,
	rollBackTransfer,
	stepTimeoutMs,
} from "./transfer-steps";

/** Back-off before the alarm retries a step whose peer was unreachable. */
const retryMs = 1_000;

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
			if (!loadTransfer(this.device.sql, order.transferId)) {
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
		const mapping = mappingByKey(sql, key);
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
					await reserveTarget(this.device, transfer);
					break;
				case "reserved":
					await holdMapping(this.device, transfer);
					break;
				case "held":
					liftHold(this.device, transfer);
					break;
				case "lifted":
					await finishTransfer(this.device, transfer);
					break;
				case "rolled_back":
					throw new Problem("internal", `transfer ${transferId} was rolled back`);
			}
			// Each persisted step has its own deadline; the alarm must follow it
			// (the hold sets its lease alarm itself, inside the hold window).
			if (transfer.step !== "reserved") await this.device.scheduleAlarm();
		}
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
					await rollBackTransfer(this.device, transfer);
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
		return loadTransfer(this.device.sql, transferId)?.step ?? null;
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

	#require(transferId: string): TransferRow {
		const transfer = loadTransfer(this.device.sql, transferId);
		if (!transfer) throw new Problem("not_found", `no transfer ${transferId}`);
		return transfer;
	}
}
