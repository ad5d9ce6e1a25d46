/** Stubs of the Durable Objects the migration routes talk to, named per the RPC contract. */

/** The Fleet singleton. */
export function fleet(env: Env) {
	return env.FLEET.get(env.FLEET.idFromName("fleet"));
}

/** A VM's object. */
export function virtualMachine(env: Env, vmId: string) {
	return env.VIRTUAL_MACHINE.get(env.VIRTUAL_MACHINE.idFromName(vmId));
}

/** A host's service processor. */
export function serviceProcessor(env: Env, hostId: string) {
	return env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(hostId));
}
