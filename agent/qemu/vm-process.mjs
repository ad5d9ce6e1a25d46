// @ts-check
// One QEMU process running one VM: started as the agent's child in a session
// of its own (so a signal meant for the agent never reaches it, and it
// outlives the agent), or taken over from a previous agent through the pid,
// QMP and serial sockets it keeps in its state directory.
//
// QEMU's serial socket serves one client and drops what the guest writes
// while none is connected, so the VM holds it for as long as QEMU runs and
// fans the output out to every console, keeping the latest bytes for a new one.
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { connectQmp } from "./qmp.mjs";

/** Bytes of recent console output kept for a console that attaches later. */
const recentOutputBytes = 16 * 1024;
/**
 * The machine type and CPU model every VM runs with: a named model, not
 * `host`, so a VM can move to another CPU (the target's checks ask for these).
 */
export const machineType = "pc";
export const cpuModel = "qemu64";

/** Longest path a UNIX socket may have on Linux (sun_path less its NUL). */
const maxSocketPathBytes = 107;

/**
 * @typedef {import("../../shared/schemas/agent.ts").VmDefinition} VmDefinition
 * @typedef {{binary: string, accel: "kvm" | "tcg"}} QemuRuntime
 */

/** Paths of a VM's state directory. @param {string} stateDir @param {string} vmId */
function vmPaths(stateDir, vmId) {
	const dir = join(stateDir, "vms", vmId);
	const paths = {
		dir,
		pid: join(dir, "qemu.pid"),
		qmp: join(dir, "qmp.sock"),
		serial: join(dir, "serial.sock"),
		log: join(dir, "qemu.log"),
		definition: join(dir, "definition.json"),
		migration: join(dir, "migration.json"),
	};
	if (Buffer.byteLength(paths.serial) > maxSocketPathBytes) {
		throw new Error(`state directory ${stateDir} is too long for UNIX socket paths`);
	}
	return paths;
}

/**
 * The command line of a VM. No `-daemonize`: QEMU stays our child, its pid recorded.
 * @param {VmDefinition} vm @param {ReturnType<typeof vmPaths>} paths @param {QemuRuntime} runtime
 * @param {{incoming?: boolean}} [options]
 */
function qemuArguments(vm, paths, runtime, { incoming = false } = {}) {
	const args = [
		["-name", `guest=${vm.vmId}`],
		["-machine", machineType],
		["-accel", runtime.accel],
		["-cpu", cpuModel],
		["-m", String(vm.memoryMiB)],
		["-smp", String(vm.vcpus)],
		["-nodefaults"],
		["-no-user-config"],
		["-display", "none"],
		["-kernel", vm.kernel],
		...(vm.initrd ? [["-initrd", vm.initrd]] : []),
		...(vm.append ? [["-append", vm.append]] : []),
		["-chardev", `socket,id=serial0,path=${paths.serial},server=on,wait=off`],
		["-serial", "chardev:serial0"],
		["-qmp", `unix:${paths.qmp},server=on,wait=off`],
		["-pidfile", paths.pid],
		...(vm.disks ?? []).map((disk, index) => [
			"-drive",
			`file=${disk.path},format=${disk.format ?? "raw"},if=virtio,index=${index}`,
		]),
		...(incoming ? [["-incoming", "defer"]] : []),
	];
	return args.flat();
}

/**
 * Starts QEMU for `vm` and resolves once QMP answers.
 * @param {{vm: VmDefinition, stateDir: string, runtime: QemuRuntime, incoming?: boolean}} options
 */
export async function startVm({ vm, stateDir, runtime, incoming = false }) {
	const paths = vmPaths(stateDir, vm.vmId);
	rmSync(paths.dir, { recursive: true, force: true });
	mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
	writeFileSync(paths.definition, JSON.stringify(vm));
	const log = openSync(paths.log, "a", 0o600);
	const child = spawn(runtime.binary, qemuArguments(vm, paths, runtime, { incoming }), {
		// Its own session: Ctrl-C or a SIGTERM to the agent's group never reaches the VM.
		detached: true,
		stdio: ["ignore", log, log],
	});
	closeSync(log);
	/** @type {Promise<number | null>} */
	const exited = new Promise((resolve) => {
		child.once("exit", (code) => resolve(code));
		child.once("error", () => resolve(null));
	});
	const qmp = await waitFor(() => connectQmp(paths.qmp), 15_000, exited).catch((error) => {
		child.kill("SIGKILL");
		throw new Error(`QEMU did not start: ${lastLines(paths.log) || error.message}`);
	});
	if (child.pid !== undefined) writeFileSync(paths.pid, String(child.pid));
	return createVm({ vm, paths, qmp, pid: child.pid ?? 0 });
}

/**
 * Takes over a VM a previous agent started, if its QEMU still runs.
 * @param {{vmId: string, stateDir: string}} options
 */
export async function adoptVm({ vmId, stateDir }) {
	const paths = vmPaths(stateDir, vmId);
	let pid;
	let vm;
	try {
		pid = Number(readFileSync(paths.pid, "utf8").trim());
		vm = JSON.parse(readFileSync(paths.definition, "utf8"));
	} catch {
		return undefined;
	}
	if (!isOurQemu(pid, paths.qmp)) return undefined;
	const qmp = await connectQmp(paths.qmp).catch(() => undefined);
	return qmp && createVm({ vm, paths, qmp, pid });
}

/** Whether `pid` is alive and is the QEMU serving `qmpPath` (not a reused pid). */
function isOurQemu(/** @type {number} */ pid, /** @type {string} */ qmpPath) {
	if (!Number.isSafeInteger(pid) || pid <= 1) return false;
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// A zombie has exited; the state letter follows the parenthesised name.
		if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
		return readFileSync(`/proc/${pid}/cmdline`, "utf8")
			.split("\0")
			.some((arg) => arg.includes(qmpPath));
	} catch {
		return false;
	}
}

/**
 * @param {{vm: VmDefinition, paths: ReturnType<typeof vmPaths>, qmp: import("./qmp.mjs").QmpClient, pid: number}} parts
 */
function createVm({ vm, paths, qmp, pid }) {
	const output = new EventEmitter();
	output.setMaxListeners(0);
	/** @type {Buffer[]} */
	const recent = [];
	let recentBytes = 0;
	/** @type {import("node:net").Socket | undefined} */
	let serial;
	let gone = false;

	const remember = (/** @type {Buffer} */ chunk) => {
		recent.push(chunk);
		recentBytes += chunk.length;
		while (recentBytes - (recent[0]?.length ?? 0) >= recentOutputBytes) {
			recentBytes -= recent.shift()?.length ?? 0;
		}
	};
	const holdSerial = () => {
		if (gone) return;
		const socket = createConnection(paths.serial);
		serial = socket;
		socket.on("data", (chunk) => {
			remember(chunk);
			output.emit("data", chunk);
		});
		socket.on("error", () => {});
		// QEMU closed it (or it was not there yet): hold it again while QEMU runs.
		socket.on("close", () => {
			if (serial === socket) serial = undefined;
			if (!gone) setTimeout(holdSerial, 100);
		});
	};
	holdSerial();

	const exited = new Promise((resolve) => {
		qmp.events.once("close", () => {
			gone = true;
			serial?.destroy();
			resolve(undefined);
		});
	});

	/** `quit`, then SIGKILL if QEMU does not go. */
	async function end() {
		if (gone) return;
		await qmp.execute("quit").catch(() => {});
		if (await settlesWithin(exited, 5_000)) return;
		try {
			process.kill(pid, "SIGKILL");
		} catch {}
		await settlesWithin(exited, 5_000);
	}

	return {
		vmId: vm.vmId,
		definition: vm,
		paths,
		pid,
		qmp,
		/** Resolves when QEMU has gone (its QMP socket closed). */
		exited,
		get running() {
			return !gone;
		},
		/** The console output kept for a newly attached console. */
		recentOutput() {
			return Buffer.concat(recent);
		},
		/**
		 * Subscribes to console output; returns the unsubscribe function.
		 * @param {(chunk: Buffer) => void} listener
		 */
		onOutput(listener) {
			output.on("data", listener);
			return () => output.off("data", listener);
		},
		/** Types into the console; false when QEMU's serial port is not held right now. */
		write(/** @type {Buffer | string} */ data) {
			if (!serial || serial.destroyed) return false;
			serial.write(data);
			return true;
		},
		/**
		 * Stops the VM: an ACPI power-down first, then `quit`, then SIGKILL.
		 * @param {number} gracefulMs
		 */
		async stop(gracefulMs) {
			if (gone) return;
			await qmp.execute("system_powerdown").catch(() => {});
			if (await settlesWithin(exited, gracefulMs)) return;
			await end();
		},
		/** Ends QEMU now (a VM that moved away, an incoming copy no longer wanted). */
		quit: end,
		/** Lets go of QEMU without stopping it (the agent is exiting; the VM runs on). */
		release() {
			gone = true;
			serial?.destroy();
			qmp.close();
		},
	};
}

/** @typedef {ReturnType<typeof createVm>} RunningVm */

/** Whether `promise` settles within `ms`. @param {Promise<unknown>} promise @param {number} ms */
async function settlesWithin(promise, ms) {
	/** @type {ReturnType<typeof setTimeout> | undefined} */
	let timer;
	const timeout = new Promise((resolve) => {
		timer = setTimeout(() => resolve(false), ms);
	});
	try {
		return await Promise.race([promise.then(() => true), timeout]);
	} finally {
		clearTimeout(timer);
	}
}

/**
 * Retries `attempt` every 50 ms until it resolves, `timeoutMs` passes or
 * `exited` settles (QEMU died: no point waiting for its socket).
 * @template T
 * @param {() => Promise<T>} attempt @param {number} timeoutMs @param {Promise<unknown>} exited
 * @returns {Promise<T>}
 */
async function waitFor(attempt, timeoutMs, exited) {
	const deadline = Date.now() + timeoutMs;
	let hasExited = false;
	void exited.then(() => {
		hasExited = true;
	});
	for (;;) {
		try {
			return await attempt();
		} catch (error) {
			if (hasExited || Date.now() > deadline) throw error;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}
}

/** The last lines of QEMU's log, for a failure's reason. */
export function lastLines(/** @type {string} */ path, count = 3) {
	try {
		return readFileSync(path, "utf8").trim().split("\n").slice(-count).join(" | ").slice(0, 500);
	} catch {
		return "";
	}
}
