/**
 * The Durable Objects as tests reach them. RPC goes through the Worker's own
 * accessors (durable-objects/stubs.ts), so a refusal rejects with the Problem
 * it carries and can never pass unnoticed as a resolved value. The `…Stub`
 * accessors give the runtime's raw stub, for `runInDurableObject`, alarms and
 * eviction only.
 */
import { env } from "cloudflare:workers";
import * as objects from "../../durable-objects/stubs";

export const serviceProcessor = (hostId: string) => objects.serviceProcessor(env, hostId);
export const serviceProcessorStub = (hostId: string) =>
	env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(hostId));

export const virtualMachine = (vmId: string) => objects.virtualMachine(env, vmId);
export const virtualMachineStub = (vmId: string) =>
	env.VIRTUAL_MACHINE.get(env.VIRTUAL_MACHINE.idFromName(vmId));

export const broadcastDomain = (domain: string) => objects.broadcastDomain(env, domain);
export const broadcastDomainStub = (domain: string) =>
	env.BROADCAST_DOMAIN.get(env.BROADCAST_DOMAIN.idFromName(domain));

export const fleet = () => objects.fleet(env);
export const fleetStub = () => env.FLEET.get(env.FLEET.idFromName("fleet"));

export const pciDevice = (hostId: string, bdf: string) => objects.pciDevice(env, hostId, bdf);
export const pciDeviceStub = (hostId: string, bdf: string) =>
	env.PCI_DEVICE.get(env.PCI_DEVICE.idFromName(`${hostId}/${bdf}`));

export const hostDevices = (hostId: string) => objects.hostDevices(env, hostId);
