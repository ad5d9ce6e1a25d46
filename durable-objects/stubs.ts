/**
 * Durable Object stubs, each addressed by the name its object is keyed on:
 * the one place that knows how hosts, domains, VMs and devices map to objects.
 * Each throws the Problems its object answers with (see ./refusals.ts).
 */
import { refusalsThrown } from "./refusals";

/** The service processor of `hostId`. */
export function serviceProcessor(env: Env, hostId: string) {
	return refusalsThrown(env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(hostId)));
}

/** The broadcast domain named `domain`. */
export function broadcastDomain(env: Env, domain: string) {
	return refusalsThrown(env.BROADCAST_DOMAIN.get(env.BROADCAST_DOMAIN.idFromName(domain)));
}

/** The object of the VM `vmId`. */
export function virtualMachine(env: Env, vmId: string) {
	return refusalsThrown(env.VIRTUAL_MACHINE.get(env.VIRTUAL_MACHINE.idFromName(vmId)));
}

/** The fleet directory singleton. */
export function fleet(env: Env) {
	return refusalsThrown(env.FLEET.get(env.FLEET.idFromName("fleet")));
}

/** The PciDevice object of a physical function (`bdf` canonical). */
export function pciDevice(env: Env, hostId: string, bdf: string) {
	return refusalsThrown(env.PCI_DEVICE.get(env.PCI_DEVICE.idFromName(`${hostId}/${bdf}`)));
}

/**
 * The PciDevice object that acts as a host's device directory. Its name has
 * no `/`, so it can never be a device's object.
 */
export function pciDirectory(env: Env, hostId: string) {
	return refusalsThrown(env.PCI_DEVICE.get(env.PCI_DEVICE.idFromName(hostId)));
}
