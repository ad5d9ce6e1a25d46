import { DurableObject } from "cloudflare:workers";
import type { DeviceRecord } from "../shared/schemas/pci";
import { hostCapacity, listBdfs, registerOnHost } from "./host-devices/directory";
import type { DeviceRegistration } from "./pci-device/registration";
import { type Answer, answer } from "./refusals";
import { migrateSchema } from "./sql";

/** Schema steps of a host's device directory (see ./sql.ts). */
const schema = ["CREATE TABLE devices (bdf TEXT PRIMARY KEY);"];

/**
 * One host's PCI devices (`idFromName(hostId)`): the index of its physical
 * functions, the one owner of the host-level invariants — functions that must
 * not overlap are registered one at a time — and the free VF capacity that
 * migration rules read. Each function's own state lives in its PciDevice.
 */
export class HostDevices extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		migrateSchema(ctx.storage, schema);
	}

	/**
	 * Registers or updates one of the host's functions, refused
	 * (`invalid_request`) when it conflicts with another; one at a time.
	 */
	async registerFunction(
		input: DeviceRegistration,
	): Answer<{ device: DeviceRecord; created: boolean }> {
		return answer(() => registerOnHost(this.ctx, this.env, input));
	}

	/** The host's device BDFs in order. */
	async listDeviceBdfs(): Promise<string[]> {
		return listBdfs(this.ctx.storage.sql);
	}

	/**
	 * The host's devices and their free VF slots (with VF BARs of at least
	 * `minSize` bytes, hex, when given), for migration capacity checks.
	 */
	async hostCapacity(minSize?: string): Promise<{ devices: number; freeVfs: number }> {
		return hostCapacity(this.env, this.ctx.storage.sql, this.#hostId(), minSize);
	}

	#hostId(): string {
		// Objects are always addressed by name (`idFromName(hostId)`).
		return this.ctx.id.name ?? this.ctx.id.toString();
	}
}
