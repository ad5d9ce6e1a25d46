// @ts-check
// The simulator behind the driver seam (../driver.mjs): a shell per console,
// validation checks that take a while and pass or fail at a configured rate,
// and migrations paced like real pre-copy rounds. It is what `npm run dev`'s
// demo fleet and the end-to-end tests run on.
import { planMigration } from "../migration-plan.mjs";
import { createVmShell } from "../vm-shell.mjs";

/**
 * @typedef {object} AgentBehaviour
 * @property {number} validationFailureRate 0–1, share of agent validation subtasks that fail
 * @property {[number, number]} validationLatencyMs min and max time a subtask takes
 * @property {number} migrationFailureRate 0–1, share of migrations that fail mid-copy
 * @property {number} migrationTimeScale simulated migration time × this = real time
 * @property {() => number} random source of randomness in [0, 1)
 */

/** @typedef {{memoryMiB: number, vcpus: number}} VmShape */

/** @type {AgentBehaviour} */
export const defaultBehaviour = {
	validationFailureRate: 0,
	validationLatencyMs: [200, 1500],
	migrationFailureRate: 0,
	migrationTimeScale: 0.25,
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
 *   facts?: unknown,
 *   vmShape: (vmId: string, told?: VmShape) => VmShape,
 *   vmVariables: (vmId: string) => Map<string, string>,
 *   behaviour: AgentBehaviour,
 * }} options
 * @returns {import("../driver.mjs").HostDriver}
 */
export function createSimulatedDriver({ hostId, facts, vmShape, vmVariables, behaviour }) {
	/** @type {Map<string, {cancelled: boolean, cancelRequested: boolean}>} */
	const migrations = new Map();
	/** @type {import("../driver.mjs").DriverContext | undefined} */
	let context;
	const report = (/** @type {string} */ type, /** @type {unknown} */ data) =>
		context?.report(type, data) ?? Promise.resolve();

	return {
		async start(driverContext) {
			context = driverContext;
		},

		async connected() {
			// The simulator's facts are given, not measured: reported as they are on every connect.
			if (facts) await report("host.facts", facts);
		},

		async openConsole(vmId, { output, close }, { resume = false, vm } = {}) {
			const shell = createVmShell({
				vmId,
				...vmShape(vmId, vm),
				variables: vmVariables(vmId),
				write: output,
				close: () => close("guest logout"),
			});
			// A console carried over from the VM's old host goes on where it was: no new greeting.
			if (!resume) shell.banner();
			return {
				write: (data) => shell.input(typeof data === "string" ? data : new Uint8Array(data)),
				close: () => shell.dispose(),
			};
		},

		async check(command) {
			const { subtask } = command;
			const [minMs, maxMs] = behaviour.validationLatencyMs;
			const startedAt = Date.now();
			await sleep(minMs + behaviour.random() * (maxMs - minMs));
			const ok = behaviour.random() >= behaviour.validationFailureRate;
			const elapsedMs = Date.now() - startedAt;
			const detail = ok
				? `simulated ${subtask} passed in ${elapsedMs} ms on ${hostId}`
				: `simulated ${subtask} failed on ${hostId}: ${failureDetails[Math.floor(behaviour.random() * failureDetails.length)]}`;
			return { ok, detail };
		},

		async migrate(command) {
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
							await report("migration.failed", {
								migrationId,
								reason: "cancelled on request; the VM stays on the source",
							});
						}
						return context?.emit({ type: "migration.cancelled", hostId, migrationId });
					}
					if (step.round === failsAtRound) {
						await report("migration.failed", {
							migrationId,
							reason: `simulated: pre-copy round ${step.round} lost the migration link`,
						});
						return;
					}
					const percent = Math.floor(
						previousPercent + ((step.percent - previousPercent) * slice) / slices,
					);
					await report("migration.progress", { migrationId, percent, phase: step.phase });
				}
				previousPercent = step.percent;
			}
			await report("migration.completed", { migrationId });
		},

		async cancel(command) {
			const migration = migrations.get(command.migrationId);
			if (migration) Object.assign(migration, { cancelled: true, cancelRequested: true });
		},

		notify(command) {
			context?.emit({ type: command.type, hostId, command });
		},

		/** Abandons running migrations. */
		async stop() {
			for (const migration of migrations.values()) migration.cancelled = true;
		},
	};
}
