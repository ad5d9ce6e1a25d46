/**
 * What a VM object answers about its VM, as types of their own: the modules
 * that work on them import these, not the object's class file, so nothing
 * depends back on it.
 */

/** Where a VM lives now. */
export interface Placement {
	vmId: string;
	hostId: string;
}

/**
 * A virtual function attached to the VM. Identified by the device its driver
 * was first mapped through (`hostId`, `bdf`) and the driver's `virtualAddress`:
 * that mapping stays put while transfers move the function it points at.
 */
export interface AttachedFunction {
	hostId: string;
	bdf: string;
	vfIndex: number;
	virtualAddress: string;
}

/** What the migration part needs from the rest of the VirtualMachine object. */
export interface VmPorts {
	vmId(): string;
	getPlacement(): Promise<Placement | null>;
	movePlacement(fromHostId: string, toHostId: string): Promise<void>;
	listFunctions(): Promise<AttachedFunction[]>;
}
