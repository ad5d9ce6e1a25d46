// @ts-check
// What a simulated host agent does for each control command, once the
// command has been acked and deduped: console channels, validation checks,
// migrations, and driver notifications for held/lifted virtual functions.
import WebSocket from "ws";
import { planMigration } from "./migration-plan.mjs";
import { createVmShell } from "./vm-shell.mjs";

/**
 * @typedef {object} AgentBehaviour
 * @property {number} validationFailureRate 0–1, share of agent validation subtasks that fail
 * @property {[number, number]} validationLatencyMs min and max time a subtask takes
 * @property {number} migrationFailureRate 0–1, share of migrations that fail mid-copy
 * @property {number} migrationTimeScale simulated migration time × this = real time
 * @property {number} ackLossRate 0–1, share of acks dropped (fault injection for at-least-once delivery)
 * @property {() => number} random source of randomness in [0, 1)
 */

/** @typedef {{memoryMiB: number, vcpus: number}} VmShape */
/** @typedef {{type: string, id: string | number, [field: string]: any}} AgentCommand */
/** @typedef {(event: {type: string, [field: string]: unknown}) => void} EmitEvent */

/** @type {AgentBehaviour} */
export const defaultBehaviour = {
	validationFailureRate: 0,
	validationLatencyMs: [200, 1500],
	migrationFailureRate: 0,
	migrationTimeScale: 0.25,
	ackLossRate: 0,
	random: Math.random,
};

/** Why a simulated validation subtask failed, phrased like a real check would. */
const failureDetails = [
	"storage path to the target SAN answered 2 of 4 probes",
	"measured network bandwidth 3.1 Gbit/s, below the 8 Gbit/s needed",
	"workload throughput dropped 38 % under the dirty-page probe",
	"tunable vm.dirty_ratio differs between source and target",
];

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {{
 *   hostId: string,
 *   sendWebhook: (type: string, data: unknown) => Promise<{ok: boolean}>,
 *   vmShape: (vmId: string) => VmShape,
 *   behaviour: AgentBehaviour,
 *   emit: EmitEvent,
 * }} options
 */
export function createCommandHandlers({ hostId, sendWebhook, vmShape, behaviour, emit }) {
	/** @type {Map<string, {socket: WebSocket, dispose: () => void}>} */
	const consoles = new Map();
	/** @type {Map<string, {cancelled: boolean}>} */
	const migrations = new Map();

	/** @param {AgentCommand} command */
	function openConsole(command) {
		const { sessionId, vmId } = command;
		const url = command.channel?.url;
		if (typeof url !== "string" || consoles.has(sessionId)) return;
		// Console frames are small and latency-bound; deflate would cost CPU on both ends.
		const socket = new WebSocket(url, { perMessageDeflate: false });
		const shape = vmShape(vmId);
		const shell = createVmShell({
			vmId,
			...shape,
			write: (text) => {
				if (socket.readyState === WebSocket.OPEN) socket.send(text);
			},
			close: () => socket.close(1000, "guest logout"),
		});
		consoles.set(sessionId, { socket, dispose: () => socket.terminate() });
		socket.on("open", () => {
			emit({ type: "console.attached", hostId, sessionId, vmId });
			shell.banner();
		});
		socket.on("message", (data, isBinary) => {
			const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(new Uint8Array(data));
			shell.input(isBinary ? new Uint8Array(chunk) : chunk.toString("utf8"));
		});
		socket.on("error", (error) => {
			emit({ type: "console.error", hostId, sessionId, message: error.message });
		});
		socket.on("close", (code, reason) => {
			shell.dispose();
			consoles.delete(sessionId);
			emit({ type: "console.closed", hostId, sessionId, code, reason: reason.toString() });
		});
	}

	/** @param {AgentCommand} command */
	async function runValidation(command) {
		const { migrationId, subtask } = command;
		const [minMs, maxMs] = behaviour.validationLatencyMs;
		const startedAt = Date.now();
		await sleep(minMs + behaviour.random() * (maxMs - minMs));
		const ok = behaviour.random() >= behaviour.validationFailureRate;
		const elapsedMs = Date.now() - startedAt;
		const detail = ok
			? `simulated ${subtask} passed in ${elapsedMs} ms on ${hostId}`
			: `simulated ${subtask} failed on ${hostId}: ${failureDetails[Math.floor(behaviour.random() * failureDetails.length)]}`;
		await sendWebhook("validation.result", { migrationId, subtask, ok, detail });
	}

	/** @param {AgentCommand} command */
	async function runMigration(command) {
		const { migrationId, vmId } = command;
		if (migrations.has(migrationId)) return;
		const state = { cancelled: false, cancelRequested: false };
		migrations.set(migrationId, state);
		const steps = planMigration({ memoryMiB: vmShape(vmId).memoryMiB });
		const failsAtRound =
			behaviour.random() < behaviour.migrationFailureRate
				? 1 + Math.floor(behaviour.random() * steps.length)
				: undefined;
		let previousPercent = 0;
		for (const step of steps) {
			// Long rounds report several times so a progress bar moves smoothly.
			const slices = Math.max(1, Math.min(8, Math.ceil(step.durationMs / 2000)));
			for (let slice = 1; slice <= slices; slice += 1) {
				await sleep((step.durationMs * behaviour.migrationTimeScale) / slices);
				if (state.cancelled) {
					// Tell the control plane the copy stopped, so the VM is known to stay on the source.
					if (state.cancelRequested) {
						await sendWebhook("migration.failed", {
							migrationId,
							reason: "cancelled on request; the VM stays on the source",
						});
					}
					return emit({ type: "migration.cancelled", hostId, migrationId });
				}
				if (step.round === failsAtRound) {
					await sendWebhook("migration.failed", {
						migrationId,
						reason: `simulated: pre-copy round ${step.round} lost the migration link`,
					});
					return;
				}
				const percent = Math.floor(
					previousPercent + ((step.percent - previousPercent) * slice) / slices,
				);
				await sendWebhook("migration.progress", { migrationId, percent, phase: step.phase });
			}
			previousPercent = step.percent;
		}
		await sendWebhook("migration.completed", { migrationId });
	}

	return {
		/**
		 * Carries out one new (already deduped) command. Long work runs in the
		 * background so the control channel keeps reading.
		 * @param {AgentCommand} command
		 */
		handle(command) {
			switch (command.type) {
				case "session.open":
					return openConsole(command);
				case "session.close":
					consoles.get(command.sessionId)?.socket.close(1000, String(command.reason ?? "closed"));
					return;
				case "validation.run":
					void runValidation(command);
					return;
				case "migration.start":
					void runMigration(command);
					return;
				case "migration.cancel": {
					const migration = migrations.get(command.migrationId);
					if (migration) Object.assign(migration, { cancelled: true, cancelRequested: true });
					return;
				}
				case "vf.hold":
				case "vf.lift":
					emit({ type: command.type, hostId, command });
					return;
				default:
					emit({ type: "command.unknown", hostId, command });
			}
		},
		/** Closes every console and abandons running migrations. */
		dispose() {
			for (const migration of migrations.values()) migration.cancelled = true;
			for (const entry of consoles.values()) entry.dispose();
			consoles.clear();
		},
	};
}
