// @ts-check
// `edgevisor-agent qemu`: the host agent of one real QEMU host (API.md,
// "Host agent for QEMU hosts"). It runs as root on a hypervisor, so what it
// reads from disk is checked before use and nothing secret reaches its log.
import { constants, mkdirSync, statSync } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { createHostAgent } from "./host-agent.mjs";
import { createQemuDriver } from "./qemu/driver.mjs";
import { qemuVersion } from "./qemu/facts.mjs";

/**
 * @typedef {object} QemuAgentOptions
 * @property {string} url
 * @property {string} hostFile
 * @property {string} vmsDir
 * @property {string} [checksDir]
 * @property {string} migrationAddress
 * @property {number} [migrationBandwidth] MiB/s
 * @property {string} [stateDir]
 * @property {string} qemu
 * @property {number} shutdownTimeout seconds
 */

/**
 * Reads the host file the CLI's `hosts put --secrets-file` writes. It holds
 * the agent token and webhook secret, so one that others can read is refused.
 * @param {string} path
 * @returns {Promise<import("./host-agent.mjs").AgentHost>}
 */
export async function readHostFile(path) {
	const mode = statSync(path).mode;
	if (mode & 0o077) {
		throw new Error(
			`${path} is readable by others (mode ${(mode & 0o777).toString(8)}): it holds the host's secrets; run chmod 600 ${path}`,
		);
	}
	const parsed = JSON.parse(await readFile(path, "utf8"));
	// One format for both tools: a lone host, or a fleet file holding exactly one.
	const host = Array.isArray(parsed?.hosts) && parsed.hosts.length === 1 ? parsed.hosts[0] : parsed;
	for (const field of ["hostId", "agentToken", "webhookSecret"]) {
		if (typeof host?.[field] !== "string" || host[field] === "") {
			throw new Error(
				`${path}: expected {hostId, agentToken, webhookSecret} as 'hosts put --secrets-file' writes it`,
			);
		}
	}
	return { hostId: host.hostId, agentToken: host.agentToken, webhookSecret: host.webhookSecret };
}

/** KVM where /dev/kvm can be opened, TCG otherwise. */
async function chooseAccel() {
	try {
		await access("/dev/kvm", constants.R_OK | constants.W_OK);
		return /** @type {const} */ ("kvm");
	} catch {
		return /** @type {const} */ ("tcg");
	}
}

/** Where a host's VM state lives unless `--state-dir` says otherwise. @param {string} hostId */
function defaultStateDir(hostId) {
	if (process.getuid?.() === 0) return join("/var/lib/edgevisor-agent", hostId);
	const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
	return join(base, "edgevisor-agent", hostId);
}

/**
 * Starts the agent; resolves with it once the driver has taken over its VMs.
 * @param {QemuAgentOptions} options
 * @param {import("./host-agent.mjs").EmitEvent} emit
 */
export async function startQemuAgent(options, emit) {
	const host = await readHostFile(options.hostFile);
	const stateDir = resolve(options.stateDir ?? defaultStateDir(host.hostId));
	mkdirSync(stateDir, { recursive: true, mode: 0o700 });
	const vmsDir = resolve(options.vmsDir);
	mkdirSync(vmsDir, { recursive: true });
	const runtime = {
		binary: options.qemu,
		accel: await chooseAccel(),
		version: await qemuVersion(options.qemu).catch((error) => {
			throw new Error(
				`cannot run ${options.qemu}: ${error.message} (Debian: apt-get install qemu-system-x86)`,
			);
		}),
	};
	const driver = createQemuDriver({
		vmsDir,
		stateDir,
		checksDir: options.checksDir && resolve(options.checksDir),
		migrationAddress: options.migrationAddress,
		bandwidthMiBs: options.migrationBandwidth,
		runtime,
		shutdownTimeoutMs: options.shutdownTimeout * 1000,
	});
	const agent = createHostAgent({
		baseUrl: options.url,
		host,
		driver,
		emit,
		commandLogPath: join(stateDir, "command-ids"),
	});
	agent.start();
	return { agent, hostId: host.hostId, stateDir, vmsDir, runtime };
}
