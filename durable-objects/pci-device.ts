import { DurableObject } from "cloudflare:workers";
import { parseHexAddress } from "../shared/pci";
import { Problem } from "../shared/problem";
import type {
	CreatedVfRecord,
	DeviceEventRecord,
	DeviceRecord,
	TableEntryRecord,
	TransferRecord,
	TranslationRecord,
} from "../shared/schemas/pci";
import { Outbox } from "./outbox";
import type {
	DeviceContext,
	PeerDevice,
	ReservedVf,
	ReserveRequest,
	TransferOrder,
} from "./pci-device/context";
import {
	activateFunction,
	createFunction,
	nextReservationExpiryMs,
	releaseFunction,
	reserveFunction,
	settleExpiredReservations,
} from "./pci-device/functions";
import { type HostTransferRequest, transferToHost } from "./pci-device/host-transfer";
import { LiftWaiters } from "./pci-device/lift-waiters";
import { type OutboxMessage, peerDelivery } from "./pci-device/peers";
import {
	type DeviceRegistration,
	readDevice,
	requireDevice,
	writeRegistration,
} from "./pci-device/registration";
import {
	type DeviceRow,
	deviceRecord,
	type MappingRow,
	type SlotRow,
	type TransferStep,
	tableEntry,
	transferRecord,
} from "./pci-device/rows";
import { schema } from "./pci-device/schema";
import { slotsInUse } from "./pci-device/slots";
import { appendEvent, listEvents } from "./pci-device/timeline";
import { TransferEngine } from "./pci-device/transfer";
import { translateAddress } from "./pci-device/translate";
import { type Answer, answer } from "./refusals";
import { migrateSchema } from "./sql";
import { pciDevice, serviceProcessor } from "./stubs";

/**
 * One SR-IOV physical function (named `hostId/bdf`): its geometry, its VF
 * slots, the translation table of the drivers first mapped through it, the
 * transfers that move those mappings, and its event timeline. The host's
 * index of its devices is ./host-devices.ts.
 */
export class PciDevice extends DurableObject<Env> {
	readonly #sql: SqlStorage;
	readonly #outbox: Outbox<OutboxMessage>;
	/** What this object's parts (functions, transfer steps) may use of it. */
	readonly #context: DeviceContext;
	/**
	 * The transfers this device drives. An instance field, so not RPC surface
	 * (workerd exposes only prototype members); recovery tests reach it through
	 * `runInDurableObject` to stop a transfer after a given step.
	 */
	readonly transfers: TransferEngine;
	/** What a translate reads: built once, as it runs on every device access. */
	readonly #lookup: Parameters<typeof translateAddress>[0];

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.#sql = ctx.storage.sql;
		this.#outbox = new Outbox(this.#sql, peerDelivery(env));
		this.#context = {
			sql: this.#sql,
			storage: ctx.storage,
			outbox: this.#outbox,
			waiters: new LiftWaiters(),
			identity: () => {
				const device = this.#requireDevice();
				return { hostId: device.host_id, bdf: device.bdf };
			},
			recordEvent: (event) => appendEvent(this.#sql, event),
			scheduleAlarm: () => this.#scheduleAlarm(),
			peer: (hostId, bdf) => this.#peer(hostId, bdf),
		};
		this.transfers = new TransferEngine(this.#context);
		this.#lookup = {
			sql: this.#sql,
			waiters: this.#context.waiters,
			device: (hostId, bdf) => pciDevice(this.env, hostId, bdf),
		};
		migrateSchema(ctx.storage, schema);
	}

	/** Registers or updates the physical function (through its host's HostDevices); `created` is true the first time. */
	async registerDevice(
		input: DeviceRegistration,
	): Answer<{ device: DeviceRecord; created: boolean }> {
		return answer(() => {
			const existed = writeRegistration(this.#sql, input);
			return { device: this.#record(requireDevice(this.#sql)), created: !existed };
		});
	}

	/** The device as the contract shows it, or null when unregistered. */
	async getDevice(): Promise<DeviceRecord | null> {
		const device = this.#device();
		return device ? this.#record(device) : null;
	}

	/** Creates a VF for `vmId` in the lowest free slot and maps `virtualAddress` to its BAR. */
	async createVf(input: { vmId: string; virtualAddress: string }): Answer<CreatedVfRecord> {
		return answer(async () => {
			const { host_id: hostId } = this.#requireDevice();
			const virtualAddress = parseHexAddress(input.virtualAddress);
			if (virtualAddress === undefined) {
				throw new Problem("invalid_request", "body.virtualAddress: must be a hex address 0x…");
			}
			// A function only for a VM this host's SP table holds (a VM elsewhere, or none, has no driver here).
			const onHost = (await serviceProcessor(this.env, hostId).getVm(input.vmId)) !== null;
			// Read again after the await: the registration may have changed meanwhile.
			const device = this.#requireDevice();
			const created = createFunction(
				this.#context,
				device,
				{ vmId: input.vmId, onHost },
				virtualAddress,
			);
			await this.#deliverOutbox();
			return created;
		});
	}

	/**
	 * The hot path: one indexed lookup, no write. During a hold it waits in
	 * memory for the lift (at most `holdWaitMs`), so it never answers with the
	 * address of a function that is being swapped.
	 */
	async translate(virtualAddressText: string, forwarded = false): Answer<TranslationRecord> {
		return answer(() => translateAddress(this.#lookup, virtualAddressText, forwarded));
	}

	/** The translation table, ordered by virtual address. */
	async translationTable(): Answer<TableEntryRecord[]> {
		return answer(() => {
			this.#requireDevice();
			return this.#sql
				.exec<MappingRow>("SELECT * FROM mappings ORDER BY address_key")
				.toArray()
				.map(tableEntry);
		});
	}

	/** The device's events, newest first. */
	async events(limit = 500): Answer<DeviceEventRecord[]> {
		return answer(() => {
			this.#requireDevice();
			return listEvents(this.#sql, limit);
		});
	}

	/**
	 * Transfers the function in slot `vfIndex` of this device to a free VF of
	 * the target device. The transfer runs on the device whose table holds the
	 * driver's mapping (this one, or the one the mapping was first made on).
	 */
	async transfer(input: {
		vfIndex: number;
		targetHostId: string;
		targetBdf: string;
	}): Answer<TransferRecord> {
		return answer(() => {
			this.#requireDevice();
			const [slot] = this.#sql
				.exec<SlotRow>("SELECT * FROM slots WHERE vf_index = ? AND state = 'active'", input.vfIndex)
				.toArray();
			if (!slot)
				throw new Problem("not_found", `virtual function ${input.vfIndex} is not allocated`);
			const order: TransferOrder = {
				virtualAddress: slot.virtual_address,
				transferId: crypto.randomUUID(),
				targetHostId: input.targetHostId,
				targetBdf: input.targetBdf,
				fromAllocationId: slot.allocation_id,
			};
			return this.#peer(slot.owner_host_id, slot.owner_bdf).transferMapping(order);
		});
	}

	/** Runs a transfer of a mapping in this device's table; idempotent by `transferId`. */
	async transferMapping(order: TransferOrder): Answer<TransferRecord> {
		return answer(() => this.#asPeer.transferMapping(order));
	}

	/**
	 * For migrations: moves the function mapped at `virtualAddress` (in this
	 * device's table) to the first device of `targetHostId`, in BDF order, that
	 * has a free VF slot with a large enough BAR. Idempotent by `transferId`;
	 * a function already served by that host stays where it is (null).
	 */
	async transferToHost(request: HostTransferRequest): Answer<TransferRecord | null> {
		return answer(() => {
			return transferToHost(
				this.#sql,
				this.env,
				(order) => this.#asPeer.transferMapping(order),
				request,
			);
		});
	}

	/** Reserves a VF for an incoming transfer; the same `allocationId` gets the same VF. */
	async reserveVf(request: ReserveRequest): Answer<ReservedVf> {
		return answer(() => this.#asPeer.reserveVf(request));
	}

	/** Turns a reservation into an allocated VF (idempotent). */
	async activateVf(allocationId: string): Answer<void> {
		return answer(() => this.#asPeer.activateVf(allocationId));
	}

	/** Frees the slot of an allocation or reservation (idempotent; a reused index is untouched). */
	async releaseVf(allocationId: string): Answer<void> {
		return answer(() => this.#asPeer.releaseVf(allocationId));
	}

	/** Free VF slots on this device (none when its VF BARs are smaller than `minSize`). */
	async freeVfSlots(minSize?: string): Promise<number> {
		const device = this.#device();
		if (!device || (minSize && BigInt(device.vf_bar_size) < BigInt(minSize))) return 0;
		return device.total_vfs - slotsInUse(this.#sql);
	}

	/** The step a transfer run by this device has reached, or null when it never began here. */
	async transferStep(transferId: string): Promise<TransferStep | null> {
		return this.#asPeer.transferStep(transferId);
	}

	/**
	 * Completes or rolls back stalled transfers, settles expired reservations
	 * of incoming transfers and retries undelivered messages.
	 */
	override async alarm(): Promise<void> {
		await this.transfers.resumeStalled();
		await settleExpiredReservations(this.#context, (owner, transferId) =>
			this.#peer(owner.hostId, owner.bdf).transferStep(transferId),
		);
		await this.#deliverOutbox();
	}

	/** Sets the alarm to the earliest transfer deadline, outbox retry or reservation expiry. */
	#scheduleAlarm(): Promise<void> {
		const due = [
			this.transfers.nextDeadlineMs(),
			this.#outbox.nextAttemptMs(),
			nextReservationExpiryMs(this.#sql),
		].filter((value): value is number => value !== undefined);
		return due.length > 0 ? this.ctx.storage.setAlarm(Math.min(...due)) : Promise.resolve();
	}

	/** Another device's object, or this one (as itself, refusals thrown) when it names this device. */
	#peer(hostId: string, bdf: string): PeerDevice {
		return this.#isMe(hostId, bdf) ? this.#asPeer : pciDevice(this.env, hostId, bdf);
	}

	/** This device as a peer of its own transfers: the peer methods' work, unanswered. */
	readonly #asPeer: PeerDevice = {
		reserveVf: async (request) => {
			const reserved = reserveFunction(this.#context, this.#requireDevice(), request);
			await this.#scheduleAlarm();
			return reserved;
		},
		activateVf: async (allocationId) => activateFunction(this.#context, allocationId),
		releaseVf: async (allocationId) => releaseFunction(this.#context, allocationId),
		transferMapping: async (order) => transferRecord(await this.transfers.run(order)),
		transferStep: async (transferId) => this.transfers.stepOf(transferId),
	};

	async #deliverOutbox(): Promise<void> {
		await this.#outbox.flush();
		await this.#scheduleAlarm();
	}

	#isMe(hostId: string, bdf: string): boolean {
		const device = this.#device();
		return device?.host_id === hostId && device.bdf === bdf;
	}

	#device(): DeviceRow | undefined {
		return readDevice(this.#sql);
	}

	#requireDevice(): DeviceRow {
		return requireDevice(this.#sql);
	}

	#record(device: DeviceRow): DeviceRecord {
		return deviceRecord(device, slotsInUse(this.#sql));
	}
}
