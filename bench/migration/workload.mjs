// A seeded workload of migration requests over a realistic fleet, with a
// ground-truth model of which validations would fail. Plain data: the
// scenario feeds it to the real risk engine.
//
// The fleet: 3 sites × 40 hosts, three CPU generations (each adding flags),
// a rolling hypervisor upgrade (most hosts on 8.2.0, some still on 8.0.0,
// some already on 9.0.1), 256 or 512 GiB hosts with 10–80 % free memory,
// a third of the hosts with an SR-IOV NIC, and 5 % flaky hosts whose recent
// failures show in the history. VMs: mostly 2–16 GiB, a tail up to 256 GiB,
// 15 % with one or two virtual functions. Requests: 70 % maintenance
// evacuations to a twin host (same site, generation and hypervisor), 15 %
// rebalancing within the site, 15 % cross-site moves.

/** Small, fast, seedable PRNG (mulberry32). */
export function prng(seed) {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const generations = [
	{ model: "Intel Xeon Gold 6248 (Cascade Lake)", flags: ["sse4_2", "avx2", "avx512f"] },
	{ model: "Intel Xeon Gold 6338 (Ice Lake)", flags: ["sse4_2", "avx2", "avx512f", "avx512_vnni"] },
	{
		model: "Intel Xeon Gold 6438 (Sapphire Rapids)",
		flags: ["sse4_2", "avx2", "avx512f", "avx512_vnni", "amx_tile"],
	},
];

/**
 * Probabilities of the failure causes an agent subtask would find. Each
 * cause names the validation set that catches it; the deterministic causes
 * (missing CPU flags, older hypervisor, no memory, no VF slot) are found by
 * builtin checks and need no probability.
 */
export const causeModel = {
	crossSiteUnreachable: { set: "site-reachability", probability: 0.2 },
	sameSiteUnreachable: { set: "site-reachability", probability: 0.0005 },
	cpuBaselineMismatch: { set: "cpu-compatibility", probability: 0.05 },
	machineTypeMismatch: { set: "hypervisor-compatibility", probability: 0.03 },
	largeVmNoConvergence: { set: "memory-convergence", probability: 0.15 },
	smallVmNoConvergence: { set: "memory-convergence", probability: 0.001 },
	vfQuiesceFails: { set: "sriov-functions", probability: 0.05 },
	flakyTargetFails: { set: "target-health", probability: 0.3 },
};

function pick(random, list) {
	return list[Math.floor(random() * list.length)];
}

function makeHost(random, site, index) {
	const generation = Math.floor(random() * 3);
	const versionRoll = random();
	const memoryMiB = random() < 0.5 ? 262_144 : 524_288;
	const flaky = random() < 0.05;
	return {
		record: {
			hostId: `${site}-h${String(index).padStart(2, "0")}`,
			domain: "prod",
			site,
			cpu: generations[generation],
			memoryMiB,
			hypervisor: {
				name: "qemu-kvm",
				version: versionRoll < 0.15 ? "8.0.0" : versionRoll < 0.9 ? "8.2.0" : "9.0.1",
			},
			facts: { memoryFreeMiB: Math.round(memoryMiB * (0.1 + random() * 0.7)) },
			agentConnected: true,
			pci:
				random() < 0.33
					? { devices: 1, freeVfs: Math.floor(random() * 8) }
					: { devices: 0, freeVfs: 0 },
		},
		flaky,
		// Flaky hosts show 2–4 recent failures; a healthy host rarely one.
		recentFailures: flaky ? 2 + Math.floor(random() * 3) : random() < 0.03 ? 1 : 0,
	};
}

function makeVm(random, index) {
	const roll = random();
	const memoryGiB =
		roll < 0.85 ? pick(random, [2, 4, 8, 16]) : roll < 0.95 ? 32 : pick(random, [64, 128, 256]);
	return {
		vmId: `vm-${index}`,
		memoryMiB: memoryGiB * 1024,
		vcpus: Math.max(1, memoryGiB / 4),
		attachedFunctions: random() < 0.15 ? 1 + Math.floor(random() * 2) : 0,
	};
}

function twinOf(host, candidate) {
	return (
		candidate.record.site === host.record.site &&
		candidate.record.cpu === host.record.cpu &&
		candidate.record.hypervisor.version === host.record.hypervisor.version &&
		candidate.record.hostId !== host.record.hostId
	);
}

/** Ground truth: the causes that would make this migration fail, each with the set that catches it. */
function failureCauses(random, request, source, target) {
	const causes = [];
	const chance = (name) => {
		if (random() < causeModel[name].probability) causes.push(causeModel[name].set);
	};
	const { vm } = request.context;
	const t = target.record;
	const s = source.record;
	if (!s.cpu.flags.every((flag) => t.cpu.flags.includes(flag))) causes.push("cpu-compatibility");
	if (s.cpu.model !== t.cpu.model) chance("cpuBaselineMismatch");
	if (t.hypervisor.version < s.hypervisor.version) causes.push("hypervisor-compatibility");
	if (t.hypervisor.version !== s.hypervisor.version) chance("machineTypeMismatch");
	if (vm.memoryMiB > t.facts.memoryFreeMiB) causes.push("target-capacity");
	chance(s.site !== t.site ? "crossSiteUnreachable" : "sameSiteUnreachable");
	chance(vm.memoryMiB >= 32_768 ? "largeVmNoConvergence" : "smallVmNoConvergence");
	if (vm.attachedFunctions > 0) {
		if (t.pci.freeVfs < vm.attachedFunctions) causes.push("sriov-functions");
		chance("vfQuiesceFails");
	}
	if (target.flaky) chance("flakyTargetFails");
	return [...new Set(causes)];
}

/** `count` migration requests with their risk contexts and ground-truth failure causes. */
export function generateWorkload({ seed = 42, count = 1000 } = {}) {
	const random = prng(seed);
	const hosts = [];
	for (const site of ["fra1", "ams1", "lon1"]) {
		for (let index = 0; index < 40; index++) hosts.push(makeHost(random, site, index));
	}
	const requests = [];
	for (let index = 0; index < count; index++) {
		const source = pick(random, hosts);
		const roll = random();
		const candidates =
			roll < 0.7
				? hosts.filter((host) => twinOf(source, host))
				: roll < 0.85
					? hosts.filter((host) => host.record.site === source.record.site && host !== source)
					: hosts.filter((host) => host.record.site !== source.record.site);
		const target = pick(
			random,
			candidates.length > 0 ? candidates : hosts.filter((h) => h !== source),
		);
		const vm = makeVm(random, index);
		const failures = random() < 0.05 ? 1 : 0;
		const request = {
			context: {
				vm,
				source: source.record,
				target: target.record,
				history: {
					migrations: failures + Math.floor(random() * 3),
					failures,
					targetFailures: target.recentFailures,
				},
			},
		};
		request.failureCauses = failureCauses(random, request, source, target);
		requests.push(request);
	}
	return requests;
}
