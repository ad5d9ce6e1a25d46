/**
 * The policy in force until an admin PUTs another, modelled on the
 * pre-checks OpenStack Nova (`check_can_live_migrate_destination`/`_source`,
 * `compare_cpu`, scheduler RAM filter) and IBM PowerVM LPM validation run on
 * every request — here each runs only when its rule says the move is risky
 * in that respect. The README ("Migration policy") documents every rule.
 *
 * CEL note: numbers from the records are doubles, so arithmetic uses double
 * literals (`2.0`); comparisons may mix ints and doubles.
 */
import type { MigrationPolicy } from "./schemas/migrations";

const flagsKept = "source.cpu.flags.all(f, f in target.cpu.flags)";
// Unknown free memory is estimated as half the host: not free, not full.
const freeMiB =
	"(has(target.facts.memoryFreeMiB) ? target.facts.memoryFreeMiB : target.memoryMiB / 2.0)";

/** The default migration policy: 9 rules guarding 7 validation sets. */
export const defaultPolicy: MigrationPolicy = {
	rules: [
		{
			id: "cross-site",
			description: "Moving between sites crosses WAN links, other storage fabrics and VLANs.",
			score: "source.site != target.site ? 80 : 0",
			threshold: 50,
			validationSet: "site-reachability",
		},
		{
			id: "cross-domain",
			description:
				"Another broadcast domain means other service processors, networks and failure domains.",
			score: "source.domain != target.domain ? 70 : 0",
			threshold: 50,
			validationSet: "site-reachability",
		},
		{
			id: "cpu-mismatch",
			description:
				"A CPU model change risks guest-visible feature differences; a missing flag is a guest crash.",
			score: `!(${flagsKept}) ? 100 : (source.cpu.model != target.cpu.model ? 60 : 0)`,
			threshold: 50,
			validationSet: "cpu-compatibility",
		},
		{
			id: "hypervisor-change",
			description:
				"Another hypervisor, or an older version, may not accept the migration stream or machine type.",
			score:
				"source.hypervisor.name != target.hypervisor.name ? 100 : (source.hypervisor.version == target.hypervisor.version ? 0 : (versionAtLeast(target.hypervisor.version, source.hypervisor.version) ? 50 : 90))",
			threshold: 50,
			validationSet: "hypervisor-compatibility",
		},
		{
			id: "large-memory",
			description:
				"Large guests take longer to copy and may not converge when they dirty pages fast.",
			score: "vm.memoryMiB >= 65536.0 ? 90 : vm.memoryMiB * 50.0 / 32768.0",
			threshold: 50,
			validationSet: "memory-convergence",
		},
		{
			id: "low-target-headroom",
			description: "The VM would take half or more of the target's free memory.",
			score: `vm.memoryMiB >= ${freeMiB} ? 100 : 100.0 * vm.memoryMiB / ${freeMiB}`,
			threshold: 50,
			validationSet: "target-capacity",
		},
		{
			id: "attached-functions",
			description:
				"SR-IOV virtual functions must be recreated on the target and their mappings moved.",
			score: "vm.attachedFunctions > 0.0 ? 100 : 0",
			threshold: 50,
			validationSet: "sriov-functions",
		},
		{
			id: "target-agent-offline",
			description:
				"The target host's agent is not connected: nothing there could start the VM or answer a check.",
			score: "target.agentConnected ? 0 : 100",
			threshold: 50,
			validationSet: "target-health",
		},
		{
			id: "recent-failures",
			description: "Recent failed migrations of this VM or onto the target host.",
			score: "history.targetFailures * 25.0 + history.failures * 20.0",
			threshold: 50,
			validationSet: "target-health",
		},
	],
	validationSets: [
		{
			id: "site-reachability",
			description: "The target site reaches the VM's storage and networks fast enough.",
			subtasks: [
				{ id: "storage-paths", kind: "agent", timeoutSeconds: 300, costSeconds: 90 },
				{ id: "network-bandwidth", kind: "agent", timeoutSeconds: 300, costSeconds: 120 },
				{ id: "vlan-presence", kind: "agent", timeoutSeconds: 120, costSeconds: 20 },
			],
		},
		{
			id: "cpu-compatibility",
			description: "The target CPU offers every feature the guest may be using.",
			subtasks: [
				{ id: "flags-superset", kind: "builtin", check: flagsKept, costSeconds: 0 },
				{
					id: "guest-cpu-baseline",
					kind: "agent",
					runsOn: "target",
					timeoutSeconds: 120,
					costSeconds: 15,
				},
			],
		},
		{
			id: "hypervisor-compatibility",
			description: "The target hypervisor accepts the migration stream and the machine type.",
			subtasks: [
				{
					id: "same-hypervisor",
					kind: "builtin",
					check: "source.hypervisor.name == target.hypervisor.name",
				},
				{
					id: "target-not-older",
					kind: "builtin",
					check: "versionAtLeast(target.hypervisor.version, source.hypervisor.version)",
				},
				{
					id: "machine-type",
					kind: "agent",
					runsOn: "target",
					timeoutSeconds: 120,
					costSeconds: 15,
				},
			],
		},
		{
			id: "memory-convergence",
			description: "The guest's dirty-page rate lets pre-copy converge over the migration link.",
			subtasks: [
				{ id: "dirty-page-rate", kind: "agent", timeoutSeconds: 300, costSeconds: 60 },
				{ id: "migration-bandwidth", kind: "agent", timeoutSeconds: 300, costSeconds: 60 },
			],
		},
		{
			id: "target-capacity",
			description: "The target has the memory and instance capacity for the VM.",
			subtasks: [
				{
					id: "memory-fits",
					kind: "builtin",
					check: "!has(target.facts.memoryFreeMiB) || target.facts.memoryFreeMiB >= vm.memoryMiB",
				},
				{
					id: "capacity-probe",
					kind: "agent",
					runsOn: "target",
					timeoutSeconds: 120,
					costSeconds: 30,
				},
			],
		},
		{
			id: "sriov-functions",
			description: "The target has free VF slots and the guest drivers can pause DMA for the move.",
			subtasks: [
				{
					id: "free-vf-slots",
					kind: "builtin",
					check: "target.pci.freeVfs >= vm.attachedFunctions",
				},
				{ id: "vf-quiesce", kind: "agent", timeoutSeconds: 120, costSeconds: 30 },
			],
		},
		{
			id: "target-health",
			description:
				"The target host is healthy and the workload's tunables are sane after failures.",
			subtasks: [
				{
					id: "agent-connected",
					kind: "builtin",
					description: "The target's agent holds its control channel now.",
					check: "target.agentConnected",
				},
				{
					id: "host-health",
					kind: "agent",
					runsOn: "target",
					timeoutSeconds: 180,
					costSeconds: 45,
				},
				{
					id: "tunables-sanity",
					kind: "agent",
					runsOn: "target",
					timeoutSeconds: 120,
					costSeconds: 20,
				},
			],
		},
	],
};
