/**
 * Durable Object stubs, each addressed by the name its object is keyed on:
 * the one place that knows how hosts, domains, VMs and devices map to objects,
 * and the one place that unwraps refusals (see ./refusals.ts): a method that
 * answered `Answer<T>` resolves to its `T` here, or rejects with the Problem.
 */
import { type Refusal, unwrap } from "./refusals";

/** A stub as its callers see it: every method resolves to its value, refusals thrown. */
export type Unrefused<Stub> = {
	[K in keyof Stub]: Stub[K] extends (...args: infer Args) => infer Result
		? (...args: Args) => Promise<Exclude<Awaited<Result>, Refusal>>
		: Stub[K];
};

/**
 * `stub` with each method call's refusal thrown again. `fetch` (WebSocket
 * upgrades) is passed through as it is.
 */
export function unrefused<Stub extends object>(stub: Stub): Unrefused<Stub> {
	return new Proxy(stub, {
		get(target, property) {
			const member = Reflect.get(target, property);
			if (typeof member !== "function") return member;
			// Called on the stub itself (its native methods refuse another `this`),
			// and through Reflect.apply: an RPC method stub answers any property,
			// `apply` included, as a remote call.
			const call = (...args: unknown[]) => Reflect.apply(member, target, args);
			if (property === "fetch") return call;
			return async (...args: unknown[]) => unwrap(await call(...args));
		},
	}) as Unrefused<Stub>;
}

/** The service processor of `hostId`. */
export function serviceProcessor(env: Env, hostId: string) {
	return unrefused(env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(hostId)));
}

/** The broadcast domain named `domain`. */
export function broadcastDomain(env: Env, domain: string) {
	return unrefused(env.BROADCAST_DOMAIN.get(env.BROADCAST_DOMAIN.idFromName(domain)));
}

/** The object of the VM `vmId`. */
export function virtualMachine(env: Env, vmId: string) {
	return unrefused(env.VIRTUAL_MACHINE.get(env.VIRTUAL_MACHINE.idFromName(vmId)));
}

/** The fleet directory singleton. */
export function fleet(env: Env) {
	return unrefused(env.FLEET.get(env.FLEET.idFromName("fleet")));
}

/** The PciDevice object of a physical function (`bdf` canonical). */
export function pciDevice(env: Env, hostId: string, bdf: string) {
	return unrefused(env.PCI_DEVICE.get(env.PCI_DEVICE.idFromName(`${hostId}/${bdf}`)));
}

/** The device directory of `hostId`: its PCI devices' index, registrations and capacity. */
export function hostDevices(env: Env, hostId: string) {
	return unrefused(env.HOST_DEVICES.get(env.HOST_DEVICES.idFromName(hostId)));
}
