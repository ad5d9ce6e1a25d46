// @ts-check
// The demo fleet: two broadcast domains, six hosts on two sites and three CPU
// generations, twelve VMs, SR-IOV NICs with virtual functions attached to VMs.

const iceLake = {
	model: "Intel Xeon Gold 6338 (Ice Lake)",
	flags: ["sse4_2", "avx2", "avx512f", "avx512_vnni", "aes", "vmx"],
};
const sapphireRapids = {
	model: "Intel Xeon Gold 6448Y (Sapphire Rapids)",
	flags: ["sse4_2", "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "aes", "vmx"],
};
const genoa = {
	model: "AMD EPYC 9354 (Genoa)",
	flags: ["sse4_2", "avx2", "avx512f", "avx512_vnni", "aes", "svm"],
};
const kvm92 = { name: "qemu-kvm", version: "9.2.0" };
const kvm100 = { name: "qemu-kvm", version: "10.0.2" };

/** @typedef {{hostId: string, domain: string, site: string, cpu: {model: string, flags: string[]}, memoryMiB: number, hypervisor: {name: string, version: string}}} DemoHost */
/** @typedef {{vmId: string, hostId: string, memoryMiB: number, vcpus: number}} DemoVm */
/** @typedef {{hostId: string, bdf: string, vendorId: string, deviceId: string, sriov: {totalVfs: number, firstVfOffset: number, vfStride: number, vfBarBase: string, vfBarSize: string}}} DemoDevice */
/** @typedef {{hostId: string, bdf: string, vmId: string, virtualAddress: string}} DemoFunction */

/** @type {DemoHost[]} */
export const demoHosts = [
	{
		hostId: "fra1-h1",
		domain: "edge-prod",
		site: "fra1",
		cpu: iceLake,
		memoryMiB: 262_144,
		hypervisor: kvm92,
	},
	{
		hostId: "fra1-h2",
		domain: "edge-prod",
		site: "fra1",
		cpu: iceLake,
		memoryMiB: 262_144,
		hypervisor: kvm92,
	},
	{
		hostId: "fra1-h3",
		domain: "edge-prod",
		site: "fra1",
		cpu: sapphireRapids,
		memoryMiB: 524_288,
		hypervisor: kvm100,
	},
	{
		hostId: "ams1-h1",
		domain: "edge-prod",
		site: "ams1",
		cpu: sapphireRapids,
		memoryMiB: 524_288,
		hypervisor: kvm100,
	},
	{
		hostId: "ams1-h2",
		domain: "edge-lab",
		site: "ams1",
		cpu: genoa,
		memoryMiB: 393_216,
		hypervisor: kvm100,
	},
	{
		hostId: "ams1-h3",
		domain: "edge-lab",
		site: "ams1",
		cpu: genoa,
		memoryMiB: 393_216,
		hypervisor: kvm92,
	},
];

/** @type {DemoVm[]} */
export const demoVms = [
	{ vmId: "web-1", hostId: "fra1-h1", memoryMiB: 4096, vcpus: 2 },
	{ vmId: "web-2", hostId: "fra1-h1", memoryMiB: 4096, vcpus: 2 },
	{ vmId: "db-1", hostId: "fra1-h1", memoryMiB: 32_768, vcpus: 8 },
	{ vmId: "web-3", hostId: "fra1-h2", memoryMiB: 4096, vcpus: 2 },
	{ vmId: "cache-1", hostId: "fra1-h2", memoryMiB: 16_384, vcpus: 4 },
	{ vmId: "api-1", hostId: "fra1-h3", memoryMiB: 8192, vcpus: 4 },
	{ vmId: "api-2", hostId: "ams1-h1", memoryMiB: 8192, vcpus: 4 },
	{ vmId: "db-2", hostId: "ams1-h1", memoryMiB: 65_536, vcpus: 16 },
	{ vmId: "batch-1", hostId: "ams1-h1", memoryMiB: 24_576, vcpus: 12 },
	{ vmId: "ci-runner-1", hostId: "ams1-h2", memoryMiB: 8192, vcpus: 8 },
	{ vmId: "ci-runner-2", hostId: "ams1-h2", memoryMiB: 8192, vcpus: 8 },
	{ vmId: "ml-lab-1", hostId: "ams1-h3", memoryMiB: 131_072, vcpus: 32 },
];

// Intel E810 (8086:1593) and NVIDIA ConnectX-6 Dx (15b3:101d) physical functions.
const e810 = {
	vendorId: "0x8086",
	deviceId: "0x1593",
	sriov: {
		totalVfs: 64,
		firstVfOffset: 16,
		vfStride: 1,
		vfBarBase: "0x38000000000",
		vfBarSize: "0x20000",
	},
};
const connectX6 = {
	vendorId: "0x15b3",
	deviceId: "0x101d",
	sriov: {
		totalVfs: 16,
		firstVfOffset: 2,
		vfStride: 1,
		vfBarBase: "0x3a000000000",
		vfBarSize: "0x100000",
	},
};

/** @type {DemoDevice[]} */
export const demoDevices = [
	{ hostId: "fra1-h1", bdf: "0000:3b:00.0", ...e810 },
	{ hostId: "fra1-h3", bdf: "0000:3b:00.0", ...e810 },
	{ hostId: "ams1-h1", bdf: "0000:3b:00.0", ...e810 },
	{ hostId: "ams1-h2", bdf: "0000:41:00.0", ...connectX6 },
];

/** @type {DemoFunction[]} */
export const demoFunctions = [
	{ hostId: "fra1-h1", bdf: "0000:3b:00.0", vmId: "db-1", virtualAddress: "0x7f0000000000" },
	{ hostId: "fra1-h1", bdf: "0000:3b:00.0", vmId: "web-1", virtualAddress: "0x7f0000100000" },
	{ hostId: "ams1-h1", bdf: "0000:3b:00.0", vmId: "db-2", virtualAddress: "0x7f0000000000" },
	{ hostId: "ams1-h1", bdf: "0000:3b:00.0", vmId: "api-2", virtualAddress: "0x7f0000100000" },
	{ hostId: "ams1-h2", bdf: "0000:41:00.0", vmId: "ci-runner-1", virtualAddress: "0x7f0000000000" },
];
