import { DurableObject } from "cloudflare:workers";

/** Where a VM lives now. */
export interface Placement {
	vmId: string;
	hostId: string;
}

/** A virtual function attached to the VM, keyed by the device its driver was first mapped through. */
export interface AttachedFunction {
	hostId: string;
	bdf: string;
	vfIndex: number;
	virtualAddress: string;
}

// Signatures of the cross-object contract; the lead implements the bodies.
export class VirtualMachine extends DurableObject<Env> {
	async claimPlacement(_hostId: string): Promise<void> {
		throw new Error("not implemented yet");
	}
	async releasePlacement(_hostId: string): Promise<void> {
		throw new Error("not implemented yet");
	}
	async movePlacement(_fromHostId: string, _toHostId: string): Promise<void> {
		throw new Error("not implemented yet");
	}
	async getPlacement(): Promise<Placement | null> {
		throw new Error("not implemented yet");
	}
	async attachFunction(_fn: AttachedFunction): Promise<void> {
		throw new Error("not implemented yet");
	}
	async detachFunction(_fn: Omit<AttachedFunction, "virtualAddress">): Promise<void> {
		throw new Error("not implemented yet");
	}
	async listFunctions(): Promise<AttachedFunction[]> {
		throw new Error("not implemented yet");
	}
}
