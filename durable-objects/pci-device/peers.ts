/**
 * How a PciDevice reaches other objects, in one place: sibling devices by
 * `hostId/bdf`, a host's device directory, the host's service processor and
 * the VM's object (names per the cross-object RPC contract).
 */
import type { AttachedFunction } from "../virtual-machine";

/** The PciDevice object of a physical function. */
export function deviceStub(env: Env, hostId: string, bdf: string) {
	return env.PCI_DEVICE.get(env.PCI_DEVICE.idFromName(`${hostId}/${bdf}`));
}

/**
 * The PciDevice object that acts as a host's device directory. Its name has
 * no `/`, so it can never be a device's object.
 */
export function directoryStub(env: Env, hostId: string) {
	return env.PCI_DEVICE.get(env.PCI_DEVICE.idFromName(hostId));
}

/** A driver notification for the host agent (API.md, host agent channel). */
export interface DriverNotification {
	type: "vf.hold" | "vf.lift";
	hostId: string;
	bdf: string;
	vfIndex: number;
	vmId: string;
	virtualAddress: string;
	transferId: string;
}

/** One outbox message: a command for a host agent or an update for a VM's object. */
export type OutboxMessage =
	| { channel: `agent:${string}`; command: DriverNotification }
	| { channel: `vm:${string}`; attach: AttachedFunction };

/** Delivers one outbox message; throws when the peer refuses or is unreachable. */
export async function deliver(env: Env, message: OutboxMessage): Promise<void> {
	if ("command" in message) {
		const hostId = message.channel.slice("agent:".length);
		const sp = env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(hostId));
		await sp.enqueueAgentCommand({ ...message.command });
		return;
	}
	const vmId = message.channel.slice("vm:".length);
	const vm = env.VIRTUAL_MACHINE.get(env.VIRTUAL_MACHINE.idFromName(vmId));
	await vm.attachFunction(message.attach);
}
