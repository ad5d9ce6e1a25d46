/**
 * How a PciDevice's outbox (../outbox.ts) reaches other objects: the host's
 * service processor and the VM's object (stubs named per the cross-object RPC
 * contract, in ../stubs.ts). Each peer is a lane of its own, so `vf.hold`
 * reaches the service processor before the `vf.lift` that follows it.
 */
import type { OutboxDelivery } from "../outbox";
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

/** A device's outbox delivery: one lane per peer, named by the message's channel. */
export function peerDelivery(env: Env): OutboxDelivery<OutboxMessage> {
	return { deliver: (message) => deliver(env, message), laneOf: (message) => message.channel };
}

/** Delivers one outbox message; throws when the peer refuses or is unreachable. */
async function deliver(env: Env, message: OutboxMessage): Promise<void> {
	if ("command" in message) {
		const hostId = message.channel.slice("agent:".length);
		await serviceProcessor(env, hostId).enqueueAgentCommand({ ...message.command });
		return;
	}
	const vmId = message.channel.slice("vm:".length);
	await virtualMachine(env, vmId).attachFunction(message.attach);
}
