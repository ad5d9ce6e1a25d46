/**
 * The hot path: a driver's virtual address to the physical address on the
 * function now serving it. One indexed lookup and no write; during a hold it
 * waits in memory for the lift (at most `holdWaitMs`), so it never answers
 * with the address of a function that is being swapped.
 */
import { formatHex, parseHexAddress, translateThrough } from "../../shared/pci";
import { Problem } from "../../shared/problem";
import type { TranslationRecord } from "../../shared/schemas/pci";
import type { pciDevice } from "../stubs";
import { mappingCovering, ownerServedHere } from "./functions";
import type { LiftWaiters } from "./lift-waiters";
import { requireDevice } from "./registration";
import { mappingNumbers } from "./rows";

/** How long a translate waits for a hold to lift before answering `function_on_hold`. */
const holdWaitMs = 2_000;

/**
 * Translates `virtualAddressText` through this device's table; an address of
 * a function transferred here is forwarded (once) to the driver's device.
 */
export async function translateAddress(
	parts: {
		sql: SqlStorage;
		waiters: LiftWaiters;
		/** Another device's object (through the device's current `env`). */
		device(hostId: string, bdf: string): ReturnType<typeof pciDevice>;
	},
	virtualAddressText: string,
	forwarded: boolean,
): Promise<TranslationRecord> {
	const { sql, waiters } = parts;
	const address = parseHexAddress(virtualAddressText);
	if (address === undefined) {
		throw new Problem("invalid_request", "body.virtualAddress: must be a hex address 0x…");
	}
	const deadlineMs = Date.now() + holdWaitMs;
	for (;;) {
		const mapping = mappingCovering(sql, address);
		const physical = mapping && translateThrough(address, mappingNumbers(mapping));
		if (!mapping || physical === undefined) {
			const device = requireDevice(sql);
			const owner = forwarded ? undefined : ownerServedHere(sql, device, address);
			if (owner) {
				// A function transferred here: its mapping lives on the driver's device.
				return parts.device(owner.hostId, owner.bdf).translate(virtualAddressText, true);
			}
			throw new Problem("address_not_mapped", `no mapping covers ${formatHex(address)}`);
		}
		if (mapping.state === "active") {
			return {
				physicalAddress: formatHex(physical),
				hostId: mapping.target_host_id,
				bdf: mapping.target_bdf,
				vfIndex: mapping.target_vf_index,
				mappingVersion: mapping.version,
			};
		}
		const remainingMs = deadlineMs - Date.now();
		if (remainingMs <= 0 || !(await waiters.wait(mapping.address_key, remainingMs))) {
			throw new Problem(
				"function_on_hold",
				`the function at ${mapping.virtual_address} is on hold`,
				{
					retryAfterSeconds: 1,
				},
			);
		}
	}
}
