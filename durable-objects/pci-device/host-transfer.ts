/**
 * Transfers for migrations: move a driver's function to "a device of host H
 * with a free slot", chosen deterministically (the host's devices in BDF
 * order, the first whose reservation succeeds), and count a host's free VF
 * slots so a migration policy can check capacity before it starts.
 */
import { addressKey, parseHexAddress } from "../../shared/pci";
import { Problem } from "../../shared/problem";
import type { TransferRecord } from "../../shared/schemas/pci";
import { hostDevices } from "../stubs";
import type { TransferOrder } from "./context";
import { mappingByKey } from "./rows";
import { isReservationRefusal, loadTransfer } from "./transfer-steps";

/** What a migration asks for: this mapping, onto that host, under this idempotency key. */
export interface HostTransferRequest {
	virtualAddress: string;
	targetHostId: string;
	transferId: string;
}

/**
 * Runs the transfer of the mapping at `virtualAddress` onto the first device
 * of the target host that takes it; null when a device of that host already
 * serves it. A retry with the same `transferId` resumes or returns the same transfer.
 */
export async function transferToHost(
	sql: SqlStorage,
	env: Env,
	run: (order: TransferOrder) => Promise<TransferRecord>,
	request: HostTransferRequest,
): Promise<TransferRecord | null> {
	const existing = loadTransfer(sql, request.transferId);
	if (existing) return run({ ...request, targetBdf: existing.to_bdf });
	const address = parseHexAddress(request.virtualAddress);
	const mapping = address === undefined ? undefined : mappingByKey(sql, addressKey(address));
	if (!mapping) throw new Problem("not_found", `no mapping at ${request.virtualAddress}`);
	if (mapping.target_host_id === request.targetHostId) return null;
	for (const targetBdf of await hostDevices(env, request.targetHostId).listDeviceBdfs()) {
		try {
			return await run({ ...request, virtualAddress: mapping.virtual_address, targetBdf });
		} catch (error) {
			// A refusing device reserved nothing: the host's next device may take it.
			if (!isReservationRefusal(error)) throw error;
		}
	}
	throw new Problem(
		"no_free_vf",
		`no device on host ${request.targetHostId} has a free virtual function`,
	);
}
