/**
 * What a policy expression sees: the CEL variables `vm`, `source`, `target`
 * and `history`, and the two sample contexts a policy is type-checked against.
 */
import type { CelInput } from "@bufbuild/cel";
import type { HostDescription } from "../host";

/** The VM being moved. */
export interface RiskVm {
	vmId: string;
	memoryMiB: number;
	vcpus: number;
	/** Virtual functions attached to the VM (they move with it). */
	attachedFunctions: number;
}

/** A host record with its latest facts, plus its SR-IOV capacity. */
export interface RiskHost extends HostDescription {
	/** Latest `host.facts`; every field may be missing (guard with `has()`). */
	facts: { memoryFreeMiB?: number; [fact: string]: unknown };
	/** Free VF slots over the host's registered SR-IOV devices. */
	pci: { devices: number; freeVfs: number };
	/** Whether the host's agent holds its control channel now. */
	agentConnected: boolean;
}

/** Counts over the history window (the VM's, and the target host's). */
export interface RiskHistory {
	/** Migrations of this VM. */
	migrations: number;
	/** Failed migrations of this VM. */
	failures: number;
	/** Failed migrations of any VM onto the target host. */
	targetFailures: number;
}

/** Everything one assessment reads. */
export interface RiskContext {
	vm: RiskVm;
	source: RiskHost;
	target: RiskHost;
	history: RiskHistory;
}

/** The CEL bindings of a context: plain JSON data, `undefined` fields dropped. */
export function bindingsOf(context: RiskContext): Record<string, CelInput> {
	return JSON.parse(JSON.stringify(context)) as Record<string, CelInput>;
}

const twinHost: RiskHost = {
	hostId: "sample-a",
	domain: "sample",
	site: "site-1",
	cpu: { model: "Intel Xeon Gold 6338", flags: ["sse4_2", "avx2"] },
	memoryMiB: 262_144,
	hypervisor: { name: "qemu-kvm", version: "8.2.0" },
	facts: {},
	pci: { devices: 0, freeVfs: 0 },
	agentConnected: true,
};

/**
 * Type checking by evaluation: every expression must give the right type on
 * both samples. They sit at opposite ends of every fact a default rule reads
 * (twin hosts with no facts and a small VM; a cross-site move of a large VM
 * with functions, full facts and a failure history), so both sides of the
 * usual conditions run, and missing optional facts surface as errors.
 */
export const sampleContexts: ReadonlyArray<{ name: string; context: RiskContext }> = [
	{
		name: "twin hosts, small VM, no reported facts",
		context: {
			vm: { vmId: "sample-vm", memoryMiB: 2048, vcpus: 2, attachedFunctions: 0 },
			source: twinHost,
			target: { ...twinHost, hostId: "sample-b" },
			history: { migrations: 0, failures: 0, targetFailures: 0 },
		},
	},
	{
		name: "cross-site move of a large VM with functions, full facts, failures",
		context: {
			vm: { vmId: "sample-vm", memoryMiB: 131_072, vcpus: 32, attachedFunctions: 2 },
			source: {
				...twinHost,
				facts: { memoryFreeMiB: 65_536 },
				pci: { devices: 1, freeVfs: 6 },
			},
			target: {
				hostId: "sample-c",
				domain: "sample",
				site: "site-2",
				cpu: { model: "AMD EPYC 7763", flags: ["sse4_2"] },
				memoryMiB: 131_072,
				hypervisor: { name: "qemu-kvm", version: "7.2.0" },
				facts: { memoryFreeMiB: 16_384 },
				pci: { devices: 1, freeVfs: 1 },
				agentConnected: false,
			},
			history: { migrations: 5, failures: 2, targetFailures: 3 },
		},
	},
];
