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
import { policyInForce } from "../fleet/policy-cache";
import type { HostRecord } from "../service-processor";
import { hostDevices, serviceProcessor } from "../stubs";
import type { AttachedFunction, Placement } from "./records";

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

function riskHost(
	record: HostRecord & { agentConnected: boolean },
	pci: RiskHost["pci"],
): RiskHost {
	return {
		hostId: record.hostId,
		domain: record.domain,
		site: record.site,
		cpu: record.cpu,
		memoryMiB: record.memoryMiB,
		hypervisor: record.hypervisor,
		facts: record.facts ?? {},
		pci,
		agentConnected: record.agentConnected,
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
	const [sourceHost, targetHost, vmRow, policy, targetFailures, sourcePci, targetPci] =
		await Promise.all([
			serviceProcessor(env, source.hostId).describeHost(),
			serviceProcessor(env, targetHostId).describeHost(),
			// Read only: an export would mark the VM as handing off.
			serviceProcessor(env, source.hostId).getVm(vm.vmId),
			policyInForce(env),
			serviceProcessor(env, targetHostId).countMigrationFailures(now.getTime() - historyWindowMs),
			hostDevices(env, source.hostId).hostCapacity(),
			hostDevices(env, targetHostId).hostCapacity(),
		]);
	if (!targetHost) throw new Problem("host_not_found", `no host ${targetHostId}`);
	if (!sourceHost || !vmRow) {
		throw new Problem("vm_not_found", `VM ${vm.vmId} is not in host ${source.hostId}'s table`);
	}
	return {
		policy: compiledFor(JSON.stringify(policy)),
		context: {
			vm: {
				vmId: vm.vmId,
				memoryMiB: vmRow.memoryMiB,
				vcpus: vmRow.vcpus,
				attachedFunctions: vm.functions.length,
			},
			source: riskHost(sourceHost, sourcePci),
			target: riskHost(targetHost, targetPci),
			history: { ...vm.history, targetFailures },
		},
	};
}
