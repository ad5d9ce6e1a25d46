// @ts-check
// Built-in checks for the default policy's agent subtasks on a QEMU host,
// each measuring the host it runs on (the policy's `runsOn` sends it to the
// host that can observe it). The README ("Checks on QEMU hosts") lists them.

import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { memInfoKiB, parseMemInfo } from "./facts.mjs";
import { measureThroughput } from "./probe.mjs";
import { connectQmp } from "./qmp.mjs";
import { cpuModel, machineType } from "./vm-process.mjs";

/** A migration path slower than this is not one (MiB/s). */
const minimumPathMiBs = 10;
/** A first copy of the VM's memory longer than this will hardly converge. */
const longestCopySeconds = 300;

/** The result when the target reports nowhere to probe. */
function noProbe(/** @type {string} */ subtask) {
	return {
		ok: false,
		detail: `${subtask}: the target reports no probe address (migrationProbe) in its facts`,
	};
}

/** Filesystems another host sees too. */
const sharedFilesystems = new Set([
	"nfs",
	"nfs4",
	"cifs",
	"smb3",
	"ceph",
	"fuse.glusterfs",
	"glusterfs",
	"gfs2",
	"ocfs2",
	"lustre",
	"beegfs",
]);

/** The type of the filesystem holding `path`: its longest mount point prefix in /proc/mounts. */
export function filesystemOf(/** @type {string} */ mounts, /** @type {string} */ path) {
	let best = { mountPoint: "", type: "unknown" };
	for (const line of mounts.split("\n")) {
		const [, mountPoint = "", type = "unknown"] = line.split(" ");
		const under =
			path === mountPoint ||
			path.startsWith(mountPoint.endsWith("/") ? mountPoint : `${mountPoint}/`);
		if (under && mountPoint.length >= best.mountPoint.length) best = { mountPoint, type };
	}
	return best.type;
}

/** Pre-copy converges when the guest dirties memory well below the link's speed. */
const convergentShareOfBandwidth = 0.5;

/**
 * @typedef {{ok: boolean, detail: string}} CheckResult
 * @typedef {{
 *   command: {vmId: string, subtask: string, vm?: {memoryMiB: number, vcpus: number}, targetProbe?: string},
 *   vm: import("./vm-process.mjs").RunningVm | undefined,
 *   runtime: import("./vm-process.mjs").QemuRuntime,
 *   stateDir: string,
 *   bandwidthMiBs?: number,
 * }} CheckContext
 * @type {Record<string, (context: CheckContext) => Promise<CheckResult>>}
 */
export const builtinChecks = {
	/** QEMU's own page-sampling dirty rate against the migration bandwidth. */
	async "dirty-page-rate"({ vm, command, bandwidthMiBs }) {
		if (!vm) return { ok: false, detail: `VM ${command.vmId} does not run on this host` };
		// page-sampling: the dirty-bitmap and dirty-ring modes crash QEMU 7.2 under TCG.
		await vm.qmp.execute("calc-dirty-rate", { "calc-time": 1 });
		const deadline = Date.now() + 10_000;
		let rate;
		while (Date.now() < deadline) {
			await new Promise((resolve) => setTimeout(resolve, 250));
			rate = await vm.qmp.execute("query-dirty-rate");
			if (rate.status === "measured") break;
		}
		if (rate?.status !== "measured")
			return { ok: false, detail: "QEMU did not measure a dirty rate within 10 s" };
		// The cap this agent migrates with, else QEMU's own setting.
		const parameters = await vm.qmp.execute("query-migrate-parameters");
		const linkMiBs = bandwidthMiBs ?? Number(parameters["max-bandwidth"]) / (1024 * 1024);
		const dirtyMiBs = Number(rate["dirty-rate"]);
		const ok = dirtyMiBs < linkMiBs * convergentShareOfBandwidth;
		const verdict = ok ? "pre-copy converges" : "pre-copy may not converge";
		return {
			ok,
			detail: `guest dirties ${dirtyMiBs} MiB/s against ${linkMiBs.toFixed(0)} MiB/s of migration bandwidth: ${verdict}`,
		};
	},

	/** The target's QEMU offers the machine type the VM runs with. */
	async "machine-type"({ runtime }) {
		const machines = await probeQemu(runtime, "query-machines");
		const found = machines.find(
			(/** @type {{name: string, alias?: string}} */ machine) =>
				machine.name === machineType || machine.alias === machineType,
		);
		return found
			? { ok: true, detail: `QEMU here offers machine type ${machineType} (${found.name})` }
			: { ok: false, detail: `QEMU here has no machine type ${machineType}` };
	},

	/** The target's QEMU can give the guest its CPU model with every feature. */
	async "guest-cpu-baseline"({ runtime }) {
		const models = await probeQemu(runtime, "query-cpu-definitions");
		const model = models.find((/** @type {{name: string}} */ one) => one.name === cpuModel);
		if (!model) return { ok: false, detail: `QEMU here has no CPU model ${cpuModel}` };
		const missing = model["unavailable-features"] ?? [];
		return missing.length === 0
			? { ok: true, detail: `CPU model ${cpuModel} is fully available here (${runtime.accel})` }
			: { ok: false, detail: `CPU model ${cpuModel} lacks ${missing.join(", ")} here` };
	},

	/** The host answers, runs QEMU, is not overloaded and has memory left. */
	async "host-health"({ runtime }) {
		const [load] = loadavg();
		const cores = cpus().length;
		const { memoryMiB, memoryFreeMiB } = parseMemInfo(await readFile("/proc/meminfo", "utf8"));
		await probeQemu(runtime, "query-status");
		const problems = [
			...((load ?? 0) > cores * 4 ? [`load ${load?.toFixed(1)} on ${cores} cores`] : []),
			...(memoryFreeMiB < memoryMiB * 0.05 ? [`only ${memoryFreeMiB} MiB available`] : []),
		];
		return problems.length === 0
			? {
					ok: true,
					detail: `agent connected, QEMU starts, load ${load?.toFixed(1)} on ${cores} cores, ${memoryFreeMiB} MiB available`,
				}
			: { ok: false, detail: `unhealthy: ${problems.join("; ")}` };
	},

	/** The target has the memory and CPUs for one more guest of the VM's size. */
	async "capacity-probe"({ command }) {
		if (!command.vm) return { ok: false, detail: "capacity-probe: the command names no VM size" };
		const { memoryMiB, vcpus } = command.vm;
		const { memoryFreeMiB } = parseMemInfo(await readFile("/proc/meminfo", "utf8"));
		const cores = cpus().length;
		// A guest costs its memory plus QEMU's own (~10 %); vCPUs may be overcommitted 4:1.
		const problems = [
			...(memoryFreeMiB < memoryMiB * 1.1
				? [`${memoryFreeMiB} MiB available for a ${memoryMiB} MiB guest`]
				: []),
			...(vcpus > cores * 4 ? [`${vcpus} vCPUs on ${cores} cores`] : []),
		];
		return problems.length === 0
			? {
					ok: true,
					detail: `${memoryFreeMiB} MiB available for ${memoryMiB} MiB, ${cores} cores for ${vcpus} vCPUs`,
				}
			: { ok: false, detail: `no room: ${problems.join("; ")}` };
	},

	/** Kernel settings that make a guest's memory fail on the target: strict overcommit without headroom, a low map count. */
	async "tunables-sanity"({ command }) {
		const read = (/** @type {string} */ path) => readFile(path, "utf8").then((text) => text.trim());
		const [overcommit, maxMapCount, meminfo] = await Promise.all([
			read("/proc/sys/vm/overcommit_memory"),
			read("/proc/sys/vm/max_map_count"),
			read("/proc/meminfo"),
		]);
		const commitHeadroomMiB = Math.floor(
			(memInfoKiB(meminfo, "CommitLimit") - memInfoKiB(meminfo, "Committed_AS")) / 1024,
		);
		const guestMiB = command.vm?.memoryMiB ?? 0;
		const problems = [
			...(overcommit === "2" && commitHeadroomMiB < guestMiB
				? [`strict overcommit leaves ${commitHeadroomMiB} MiB to commit`]
				: []),
			...(Number(maxMapCount) < 65_530 ? [`vm.max_map_count is ${maxMapCount}`] : []),
		];
		return problems.length === 0
			? { ok: true, detail: `vm.overcommit_memory=${overcommit}, vm.max_map_count=${maxMapCount}` }
			: { ok: false, detail: problems.join("; ") };
	},

	/**
	 * The VM's disks can be reached from another host: each exists and sits on
	 * shared storage (a network or cluster filesystem, or a block device such
	 * as a SAN LUN). A disk on a local filesystem would be missing on the target.
	 */
	async "storage-paths"({ vm, command }) {
		if (!vm) return { ok: false, detail: `VM ${command.vmId} does not run on this host` };
		const disks = vm.definition.disks ?? [];
		if (disks.length === 0)
			return { ok: true, detail: "the VM has no disks (kernel and initrd only)" };
		const mounts = await readFile("/proc/mounts", "utf8");
		const problems = [];
		for (const { path } of disks) {
			try {
				await access(path, constants.R_OK);
			} catch {
				problems.push(`${path} is not readable here`);
				continue;
			}
			const fsType = filesystemOf(mounts, path);
			if (!path.startsWith("/dev/") && !sharedFilesystems.has(fsType)) {
				problems.push(`${path} is on a local ${fsType} filesystem`);
			}
		}
		return problems.length === 0
			? { ok: true, detail: `${disks.length} disk(s) on shared storage` }
			: { ok: false, detail: `not reachable from another host: ${problems.join("; ")}` };
	},

	/** The VM's networks exist on the target; a VM file declares none yet. */
	async "vlan-presence"({ vm, command }) {
		if (!vm) return { ok: false, detail: `VM ${command.vmId} does not run on this host` };
		return { ok: true, detail: "the VM has no network interfaces: no VLAN to find on the target" };
	},

	/** The source reaches the target's migration network, fast enough to carry a migration at all. */
	async "network-bandwidth"({ command }) {
		if (!command.targetProbe) return noProbe(command.subtask);
		const mibs = await measureThroughput(command.targetProbe);
		const ok = mibs >= minimumPathMiBs;
		return {
			ok,
			detail: `the migration path to the target (${command.targetProbe}) carries ${mibs.toFixed(0)} MiB/s${ok ? "" : `, below the ${minimumPathMiBs} MiB/s a migration needs`}`,
		};
	},

	/** The VM's memory crosses the measured path, at the bandwidth a migration may use, in reasonable time. */
	async "migration-bandwidth"({ command, vm, bandwidthMiBs }) {
		if (!command.targetProbe) return noProbe(command.subtask);
		const measured = await measureThroughput(command.targetProbe);
		const parameters = vm ? await vm.qmp.execute("query-migrate-parameters") : {};
		const cap = bandwidthMiBs ?? Number(parameters["max-bandwidth"] ?? 0) / 1024 ** 2;
		const usable = cap > 0 ? Math.min(measured, cap) : measured;
		const memoryMiB = command.vm?.memoryMiB ?? vm?.definition.memoryMiB ?? 0;
		const seconds = memoryMiB / usable;
		const ok = seconds <= longestCopySeconds;
		return {
			ok,
			detail: `copying ${memoryMiB} MiB at ${usable.toFixed(0)} MiB/s (path ${measured.toFixed(0)} MiB/s${cap > 0 ? `, cap ${cap.toFixed(0)}` : ""}) takes about ${seconds.toFixed(1)} s${ok ? "" : `, over ${longestCopySeconds} s`}`,
		};
	},

	/** Passthrough devices cannot be quiesced and moved by QEMU's migration. */
	async "vf-quiesce"({ vm, command }) {
		if (!vm) return { ok: false, detail: `VM ${command.vmId} does not run on this host` };
		const buses = await vm.qmp.execute("query-pci");
		const passthrough = buses
			.flatMap(
				(/** @type {{devices: Array<{qdev_id?: string, class_info?: {desc?: string}}>}} */ bus) =>
					bus.devices,
			)
			.filter((/** @type {{qdev_id?: string}} */ device) => /vfio/i.test(device.qdev_id ?? ""));
		return passthrough.length === 0
			? { ok: true, detail: "no passthrough functions attached to the guest" }
			: {
					ok: false,
					detail: `${passthrough.length} passthrough function(s) attached; detach them before a live migration`,
				};
	},
};

/**
 * Asks a throwaway QEMU with no machine (`-machine none`) one QMP question:
 * what this host's QEMU supports, without touching any VM.
 * @param {import("./vm-process.mjs").QemuRuntime} runtime @param {string} command
 */
async function probeQemu(runtime, command) {
	const dir = await mkdtemp(join(tmpdir(), "edgevisor-probe-"));
	const socketPath = join(dir, "qmp.sock");
	const child = spawn(
		runtime.binary,
		[
			"-machine",
			"none",
			"-accel",
			runtime.accel,
			"-nodefaults",
			"-display",
			"none",
			"-qmp",
			`unix:${socketPath},server=on,wait=off`,
		],
		{ stdio: "ignore" },
	);
	try {
		const deadline = Date.now() + 10_000;
		for (;;) {
			try {
				const qmp = await connectQmp(socketPath);
				try {
					return await qmp.execute(command);
				} finally {
					await qmp.execute("quit").catch(() => {});
					qmp.close();
				}
			} catch (error) {
				if (Date.now() > deadline || child.exitCode !== null) throw error;
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
		}
	} finally {
		child.kill("SIGKILL");
		await rm(dir, { recursive: true, force: true });
	}
}
