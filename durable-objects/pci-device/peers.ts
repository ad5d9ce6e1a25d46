/**
 * How a PciDevice's outbox reaches other objects: the host's service
 * processor and the VM's object (stubs named per the cross-object RPC
 * contract, in ../stubs.ts).
 */
import { serviceProcessor, virtualMachine } from "../stubs";
import type { AttachedFunction } from "../virtual-machine/records";

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
		await serviceProcessor(env, hostId).enqueueAgentCommand({ ...message.command });
		return;
	}
	const vmId = message.channel.slice("vm:".length);
	await virtualMachine(env, vmId).attachFunction(message.attach);
}
