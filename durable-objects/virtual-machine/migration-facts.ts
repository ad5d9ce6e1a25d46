/**
 * Gathers what a migration's assessment reads — the VM, both host records
 * with their latest facts, the history, the policy in force — from the
 * objects that own them, and turns contract violations into problems.
 */

import { Problem } from "../../shared/problem";
import {
	type CompiledPolicy,
	compilePolicy,
	type RiskContext,
	type RiskHost,
} from "../../shared/risk";
import type { HostRecord, VmRow } from "../service-processor";
import type { AttachedFunction, Placement } from "../virtual-machine";

/** How far back `history` counts migrations and failures. */
export const historyWindowMs = 30 * 24 * 3600 * 1000;

/** What the VM object itself knows about the VM. */
export interface LocalVm {
	vmId: string;
	placement: Placement | null;
	functions: AttachedFunction[];
	history: { migrations: number; failures: number };
}

/** The gathered inputs of one assessment. */
export interface MigrationInputs {
	context: RiskContext;
	policy: CompiledPolicy;
	/** The SP-table row on the source (read only; never leaves the objects). */
	vmRow: VmRow;
}

const compiledPolicies = new Map<string, CompiledPolicy>();

/** Compiles a stored policy once per isolate (it was validated when stored). */
function compiledFor(policyJson: string): CompiledPolicy {
	let compiled = compiledPolicies.get(policyJson);
	if (!compiled) {
		compiled = compilePolicy(JSON.parse(policyJson));
		compiledPolicies.clear();
		compiledPolicies.set(policyJson, compiled);
	}
	return compiled;
}

function sp(env: Env, hostId: string) {
	return env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(hostId));
}

/**
 * SR-IOV capacity of a host as rules see it (`target.pci`).
 * TODO(team pci): no RPC lists a host's devices and free VF slots yet, so
 * every host reports none; the default policy's `free-vf-slots` check then
 * fails every move of a VM with functions (fail safe, never a silent pass).
 */
function pciCapacity(_env: Env, _hostId: string): RiskHost["pci"] {
	return { devices: 0, freeVfs: 0 };
}

function riskHost(env: Env, record: HostRecord): RiskHost {
	return {
		hostId: record.hostId,
		domain: record.domain,
		site: record.site,
		cpu: record.cpu,
		memoryMiB: record.memoryMiB,
		hypervisor: record.hypervisor,
		facts: record.facts ?? {},
		pci: pciCapacity(env, record.hostId),
	};
}

/** Reads everything an assessment needs; problems for unknown VMs and hosts. */
export async function gatherInputs(
	env: Env,
	vm: LocalVm,
	targetHostId: string,
	now: Date,
): Promise<MigrationInputs> {
	const source = vm.placement;
	if (!source) throw new Problem("vm_not_found", `VM ${vm.vmId} is not enrolled on any host`);
	if (source.hostId === targetHostId) {
		throw new Problem("same_host", `VM ${vm.vmId} already runs on host ${targetHostId}`);
	}
	const fleet = env.FLEET.get(env.FLEET.idFromName("fleet"));
	const [sourceHost, targetHost, vmRow, policy, targetFailures] = await Promise.all([
		sp(env, source.hostId).getHost(),
		sp(env, targetHostId).getHost(),
		sp(env, source.hostId).exportVm(vm.vmId),
		fleet.getPolicy(),
		fleet.countTargetFailures(targetHostId, now.getTime() - historyWindowMs),
	]);
	if (!targetHost) throw new Problem("host_not_found", `no host ${targetHostId}`);
	if (!sourceHost || !vmRow) {
		throw new Problem("vm_not_found", `VM ${vm.vmId} is not in host ${source.hostId}'s table`);
	}
	return {
		vmRow,
		policy: compiledFor(JSON.stringify(policy)),
		context: {
			vm: {
				vmId: vm.vmId,
				memoryMiB: vmRow.memoryMiB,
				vcpus: vmRow.vcpus,
				attachedFunctions: vm.functions.length,
			},
			source: riskHost(env, sourceHost),
			target: riskHost(env, targetHost),
			history: { ...vm.history, targetFailures },
		},
	};
}
