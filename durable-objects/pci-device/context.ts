/**
 * What the transfer sequence needs from the device object that runs it, so
 * the sequence lives in its own module without reaching into the class.
 */
import type { EventTypeName, TransferRecord } from "../../shared/schemas/pci";
import type { Outbox } from "../outbox";
import type { LiftWaiters } from "./lift-waiters";
import type { OutboxMessage } from "./peers";
import type { TransferStep } from "./rows";

/** A request to reserve a VF on a target device for a transfer. */
export interface ReserveRequest {
	/** The transfer id; a repeated reservation with the same id returns the same VF. */
	allocationId: string;
	vmId: string;
	virtualAddress: string;
	ownerHostId: string;
	ownerBdf: string;
	/** The mapping's size: the target's VF BAR must be at least this large. */
	minSize: string;
}

/** The VF a reservation got. */
export interface ReservedVf {
	vfIndex: number;
	vfBdf: string;
	baseAddress: string;
}

/**
 * What one device asks of another (or of itself): slot operations on a
 * target or source, and transfers run by the driver's device.
 */
export interface PeerDevice {
	reserveVf(request: ReserveRequest): Promise<ReservedVf>;
	activateVf(allocationId: string): Promise<void>;
	releaseVf(allocationId: string): Promise<void>;
	transferMapping(order: TransferOrder): Promise<TransferRecord>;
	transferStep(transferId: string): Promise<TransferStep | null>;
}

/** An event to append to the device's timeline. */
export interface EventInput {
	type: EventTypeName;
	vfIndex?: number | null;
	virtualAddress?: string | null;
	transferId?: string | null;
	durationMs?: number | null;
	mappingVersion?: number | null;
}

/** The device object as the transfer sequence sees it. */
export interface DeviceContext {
	readonly sql: SqlStorage;
	readonly storage: DurableObjectStorage;
	readonly outbox: Outbox<OutboxMessage>;
	readonly waiters: LiftWaiters;
	/** This device's host and canonical BDF; throws device_not_found when unregistered. */
	identity(): { hostId: string; bdf: string };
	recordEvent(event: EventInput): void;
	/** Sets the alarm to the earliest pending deadline or retry. */
	scheduleAlarm(): Promise<void>;
	peer(hostId: string, bdf: string): PeerDevice;
}

/** Where a transfer starts and where it goes. */
export interface TransferOrder {
	virtualAddress: string;
	transferId: string;
	targetHostId: string;
	targetBdf: string;
	/** The allocation the caller believes serves the mapping now; refused if stale. */
	fromAllocationId?: string;
}
