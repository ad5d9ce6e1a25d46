/**
 * A host's device directory (../host-devices.ts): which physical functions
 * the host has, and their registration, one at a time —
 * the conflict check (`functionConflict`: overlapping VF BAR windows, shared
 * routing ids) and the write it guards must not interleave with another
 * registration's, or two conflicting functions could both pass.
 */
import {
	type Bdf,
	functionConflict,
	parseBdf,
	parseHexAddress,
	type RegisteredFunction,
} from "../../shared/pci";
import { Problem } from "../../shared/problem";
import type { DeviceRecord } from "../../shared/schemas/pci";
import type { DeviceRegistration } from "../pci-device/registration";
import { pciDevice } from "../stubs";

/** A registered function as the conflict check sees it. */
export function registeredFunction(
	device: Pick<DeviceRecord, "bdf" | "sriov">,
): RegisteredFunction {
	const { sriov } = device;
	return {
		bdf: parseBdf(device.bdf) as Bdf,
		geometry: {
			totalVfs: sriov.totalVfs,
			firstVfOffset: sriov.firstVfOffset,
			vfStride: sriov.vfStride,
			vfBarBase: parseHexAddress(sriov.vfBarBase) ?? 0n,
			vfBarSize: parseHexAddress(sriov.vfBarSize) ?? 0n,
		},
	};
}

/** The host's device BDFs in order. */
export function listBdfs(sql: SqlStorage): string[] {
	return sql
		.exec<{ bdf: string }>("SELECT bdf FROM devices ORDER BY bdf")
		.toArray()
		.map((row) => row.bdf);
}

type Registered = { device: DeviceRecord; created: boolean };

/**
 * Registers a function of the directory's host: checked against the host's
 * other functions and written while no other event runs on the directory.
 * Refusals come back as values: a callback of `blockConcurrencyWhile` that
 * throws resets the object.
 */
export async function registerOnHost(
	ctx: DurableObjectState,
	env: Env,
	registration: DeviceRegistration,
): Promise<Registered> {
	const outcome = await ctx.blockConcurrencyWhile(
		async (): Promise<{ registered: Registered } | { refusal: unknown }> => {
			try {
				const { hostId, bdf } = registration;
				const others = await Promise.all(
					listBdfs(ctx.storage.sql)
						.filter((other) => other !== bdf)
						.map((other) => pciDevice(env, hostId, other).getDevice()),
				);
				const candidate = registeredFunction(registration);
				const conflict = functionConflict(
					candidate.bdf,
					candidate.geometry,
					others.filter((other) => other !== null).map(registeredFunction),
				);
				if (conflict) {
					throw new Problem("invalid_request", `body.sriov.${conflict.field}: ${conflict.message}`);
				}
				const registered = await pciDevice(env, hostId, bdf).registerDevice(registration);
				ctx.storage.sql.exec("INSERT INTO devices (bdf) VALUES (?) ON CONFLICT DO NOTHING", bdf);
				return { registered };
			} catch (refusal) {
				return { refusal };
			}
		},
	);
	if ("refusal" in outcome) throw outcome.refusal;
	return outcome.registered;
}

/**
 * How many devices the directory's host has and their free VF slots in all
 * (counting only devices whose VF BARs are at least `minSize` bytes, hex,
 * when given): the capacity migration rules read as `target.pci`.
 */
export async function hostCapacity(
	env: Env,
	sql: SqlStorage,
	hostId: string,
	minSize?: string,
): Promise<{ devices: number; freeVfs: number }> {
	const bdfs = listBdfs(sql);
	const counts = await Promise.all(
		bdfs.map((bdf) => pciDevice(env, hostId, bdf).freeVfSlots(minSize)),
	);
	return { devices: bdfs.length, freeVfs: counts.reduce((sum, count) => sum + count, 0) };
}
