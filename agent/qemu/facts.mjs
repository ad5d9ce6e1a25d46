// @ts-check
// A QEMU host's own facts (API.md, "Host agent for QEMU hosts"): the CPU as
// /proc/cpuinfo names it, memory as /proc/meminfo counts it, and the version
// of the QEMU binary the agent runs. Parsers are pure; `readHostFacts` reads.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";

/** The host schema's bounds on CPU flags (shared/schemas/hosts.ts). */
const maxFlags = 512;
const maxFlagLength = 64;

/**
 * The first processor's model name and flags.
 * @param {string} cpuinfo
 * @returns {{model: string, flags: string[]}}
 */
export function parseCpuInfo(cpuinfo) {
	const field = (/** @type {string} */ name) => {
		const line = cpuinfo.split("\n").find((one) => one.split(":")[0]?.trim() === name);
		return line?.slice(line.indexOf(":") + 1).trim();
	};
	const model = field("model name") || field("cpu model") || "unknown";
	const flags = [...new Set((field("flags") ?? "").split(/\s+/).filter(Boolean))]
		.filter((flag) => flag.length <= maxFlagLength)
		.slice(0, maxFlags);
	return { model: model.slice(0, 256), flags };
}

/**
 * MemTotal and MemAvailable in MiB.
 * @param {string} meminfo
 * @returns {{memoryMiB: number, memoryFreeMiB: number}}
 */
export function parseMemInfo(meminfo) {
	return {
		memoryMiB: Math.floor(memInfoKiB(meminfo, "MemTotal") / 1024),
		memoryFreeMiB: Math.floor(memInfoKiB(meminfo, "MemAvailable") / 1024),
	};
}

/**
 * One /proc/meminfo field in KiB (0 when missing).
 * @param {string} meminfo @param {string} name
 */
export function memInfoKiB(meminfo, name) {
	const match = meminfo.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
	return match ? Number(match[1]) : 0;
}

/**
 * The version from `qemu-system-x86_64 --version`
 * ("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)" → "7.2.22").
 * @param {string} output
 */
export function parseQemuVersion(output) {
	return output.match(/version (\d+\.\d+(?:\.\d+)?)/)?.[1] ?? "unknown";
}

/** The QEMU binary's version. @param {string} binary */
export async function qemuVersion(binary) {
	const { stdout } = await promisify(execFile)(binary, ["--version"], { timeout: 10_000 });
	return parseQemuVersion(stdout);
}

/**
 * Reads the facts a `host.facts` webhook reports.
 * @param {{qemuVersion: string}} runtime
 */
export async function readHostFacts({ qemuVersion }) {
	const [cpuinfo, meminfo] = await Promise.all([
		readFile("/proc/cpuinfo", "utf8"),
		readFile("/proc/meminfo", "utf8"),
	]);
	return {
		cpu: parseCpuInfo(cpuinfo),
		...parseMemInfo(meminfo),
		hypervisor: { name: "qemu", version: qemuVersion },
	};
}

/**
 * Whether newly read facts are worth a webhook: anything but free memory
 * changed, or free memory moved by 5 % of the host or more.
 * @param {Awaited<ReturnType<typeof readHostFacts>> | undefined} reported
 * @param {Awaited<ReturnType<typeof readHostFacts>>} now
 */
export function factsChanged(reported, now) {
	if (!reported) return true;
	const { memoryFreeMiB: reportedFree, ...reportedRest } = reported;
	const { memoryFreeMiB: nowFree, ...nowRest } = now;
	if (JSON.stringify(reportedRest) !== JSON.stringify(nowRest)) return true;
	return Math.abs(nowFree - reportedFree) >= now.memoryMiB * 0.05;
}
