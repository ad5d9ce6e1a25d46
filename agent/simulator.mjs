// @ts-check
// The hypervisor-agent simulator as a library: one host agent per simulated
// host, all in this process. Used by the `edgevisor-agent` command, by
// `npm run dev` for the demo fleet, and by the end-to-end tests.
import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import { createSimulatedDriver, defaultBehaviour } from "./drivers/simulated.mjs";
import { createHostAgent } from "./host-agent.mjs";

/**
 * @typedef {import("./host-agent.mjs").AgentHost & {facts?: unknown}} SimulatedHost
 * @typedef {import("./drivers/simulated.mjs").AgentBehaviour} AgentBehaviour
 */
/** @typedef {{vmId: string, memoryMiB: number, vcpus: number}} SimulatedVm */
/** @typedef {{hosts: SimulatedHost[], vms?: SimulatedVm[]}} FleetFile */

const defaultVmShape = { memoryMiB: 4096, vcpus: 2 };

/**
 * Starts an agent for every host. Every protocol step is reported as an
 * `"event"` on the returned emitter (see `describeEvent`), which tests await.
 * @param {{
 *   baseUrl: string,
 *   hosts: SimulatedHost[],
 *   vms?: SimulatedVm[],
 *   behaviour?: Partial<AgentBehaviour>,
 *   keepAck?: () => boolean,
 * }} options `keepAck` is the tests' fault injection: false loses an ack (see the core)
 */
export function startSimulator({ baseUrl, hosts, vms = [], behaviour = {}, keepAck }) {
	const events = new EventEmitter();
	const shapes = new Map(vms.map((vm) => [vm.vmId, vm]));
	const fullBehaviour = { ...defaultBehaviour, ...behaviour };
	const emit = (/** @type {{type: string, hostId?: string}} */ event) => {
		events.emit("event", event);
	};
	// A VM keeps its shape wherever it migrates, so the catalogue is fleet-wide;
	// a session.open that names the VM's size (its SP table's) corrects it.
	const vmShape = (
		/** @type {string} */ vmId,
		/** @type {{memoryMiB: number, vcpus: number} | undefined} */ told,
	) => {
		if (told) shapes.set(vmId, { vmId, ...told });
		return shapes.get(vmId) ?? defaultVmShape;
	};
	// So is its shell's state: a simulated VM that live-migrates keeps its variables.
	/** @type {Map<string, Map<string, string>>} */
	const variables = new Map();
	const vmVariables = (/** @type {string} */ vmId) => {
		const vm = variables.get(vmId) ?? new Map();
		variables.set(vmId, vm);
		return vm;
	};
	const agents = new Map(
		hosts.map((host) => {
			const { hostId, facts } = host;
			const driver = createSimulatedDriver({
				hostId,
				facts,
				vmShape,
				vmVariables,
				behaviour: fullBehaviour,
			});
			const agent = createHostAgent({
				baseUrl,
				host,
				driver,
				emit,
				keepAck,
				random: fullBehaviour.random,
			});
			return [hostId, agent];
		}),
	);
	for (const agent of agents.values()) agent.start();
	return {
		events,
		/** The agent of one host, e.g. to drop its connection in a test. */
		agent(/** @type {string} */ hostId) {
			return agents.get(hostId);
		},
		/** Stops every agent: control channels and consoles close, nothing reconnects. */
		stop() {
			for (const agent of agents.values()) void agent.stop();
		},
	};
}

/**
 * Reads a fleet file (`{hosts: [{hostId, agentToken, webhookSecret, facts?}], vms?: [...]}`),
 * such as the one the demo seeding writes.
 * @param {string} path
 * @returns {Promise<FleetFile>}
 */
export async function readFleetFile(path) {
	const fleet = JSON.parse(await readFile(path, "utf8"));
	if (!Array.isArray(fleet?.hosts)) throw new Error(`${path}: expected {"hosts": [...]}`);
	for (const host of fleet.hosts) {
		if (!host.hostId || !host.agentToken || !host.webhookSecret)
			throw new Error(`${path}: every host needs hostId, agentToken and webhookSecret`);
	}
	return fleet;
}

/**
 * One log line for a simulator event, or undefined for events too chatty to log.
 * @param {{type: string, [field: string]: any}} event
 */
export function describeEvent(event) {
	const prefix = `[${event.hostId}]`;
	switch (event.type) {
		case "connected":
			return `${prefix} control channel open`;
		case "disconnected":
			return `${prefix} control channel closed (${event.code}), reconnecting`;
		case "rejected":
			return `${prefix} control channel refused with HTTP ${event.status}${event.status === 401 ? " (wrong agent token?)" : ""}`;
		case "command":
			return `${prefix} ← ${event.command.type} ${summarize(event.command)}${event.duplicate ? " (duplicate, acked again)" : ""}`;
		// A webhook is logged as it leaves, so a log reads in the order things happened
		// (the server may answer it with a command before the POST returns); only a failure is logged again.
		case "webhook.sending":
			return `${prefix} → ${event.webhookType} ${summarize(event.data)}`;
		case "webhook": {
			const { delivery } = event;
			if (delivery.ok) return undefined;
			return `${prefix} → ${delivery.type} FAILED ${delivery.status || "network"}`;
		}
		case "console.attached":
			return `${prefix} console ${event.sessionId} attached to ${event.vmId}`;
		case "console.closed":
			return `${prefix} console ${event.sessionId} closed (${event.reason || event.code})`;
		case "console.refused":
			return `${prefix} console ${event.sessionId} refused: ${event.why}`;
		case "console.error":
		case "channel.error":
		case "command.error":
			return `${prefix} ${event.type}: ${event.message}`;
		case "driver.log":
			return `${prefix} ${event.line}`;
		case "ack.lost":
			return `${prefix} dropped the ack of ${event.id} (fault injection)`;
		case "command.malformed":
		case "command.unknown":
			return `${prefix} ignored ${event.type.slice(8)} command`;
		default:
			return undefined;
	}
}

/** The interesting fields of a command or webhook payload, compactly. */
function summarize(/** @type {Record<string, unknown>} */ fields) {
	const keys = ["vmId", "sessionId", "migrationId", "subtask", "ok", "percent", "phase", "bdf"];
	return keys
		.filter((key) => fields?.[key] !== undefined)
		.map((key) => `${key}=${fields[key]}`)
		.join(" ");
}
