/** The VirtualMachine stub by the name the cross-object contract fixes (TEAM.md); see also ./stubs.ts. */

/** The object of `vmId`. */
export function virtualMachine(env: Env, vmId: string) {
	return env.VIRTUAL_MACHINE.get(env.VIRTUAL_MACHINE.idFromName(vmId));
}
