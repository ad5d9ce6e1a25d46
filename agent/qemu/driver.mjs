// @ts-check
// The QEMU driver: real VMs behind the agent's driver seam (../driver.mjs).
//
// `--vms-dir` is the desired state: one `<vmId>.json` per VM that should run
// here. The driver reconciles it with the QEMUs it runs (on every change of
// the directory and every few seconds), takes over the QEMUs a previous agent
// left running, and carries out consoles, checks and live migrations.
import { readdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VmDefinition } from "../../shared/schemas/agent.ts";
import { findCheck, runCheckExecutable } from "../checks-dir.mjs";
import { builtinChecks } from "./checks.mjs";
import { factsChanged, readHostFacts } from "./facts.mjs";
import { copyVm, listenForMigration, waitUntilIncomingRuns } from "./migration.mjs";
import { adoptVm, lastLines, startVm } from "./vm-process.mjs";

/** How often the desired state is read even without a change event. */
const reconcileEveryMs = 5_000;
/** How often free memory is read; a webhook goes only when facts changed enough. */
const factsEveryMs = 60_000;
/** How long a console waits for a VM that is starting. */
const consoleWaitMs = 30_000;
/** Default time a check may run when the command names none. */
const defaultCheckTimeoutMs = 120_000;

/**
 * @typedef {import("../../shared/schemas/agent.ts").VmDefinition} Definition
 * @typedef {import("./vm-process.mjs").RunningVm} RunningVm
 * @typedef {import("../driver.mjs").DriverContext} DriverContext
 */

/**
 * @param {{
 *   vmsDir: string,
 *   stateDir: string,
 *   checksDir?: string,
 *   migrationAddress: string,
 *   bandwidthMiBs?: number,
 *   runtime: import("./vm-process.mjs").QemuRuntime & {version: string},
 *   shutdownTimeoutMs: number,
 * }} options
 * @returns {import("../driver.mjs").HostDriver}
 */
export function createQemuDriver({
	vmsDir,
	stateDir,
	checksDir,
	migrationAddress,
	bandwidthMiBs,
	runtime,
	shutdownTimeoutMs,
}) {
	/** @type {Map<string, RunningVm>} VMs this host runs (its `--vms-dir` says so). */
	const vms = new Map();
	/** @type {Map<string, {migrationId: string, vm: RunningVm}>} incoming copies, by VM id */
	const incoming = new Map();
	/** @type {Map<string, {vmId: string, cancelled: boolean, copying: boolean}>} outgoing, by migration id */
	const outgoing = new Map();
	/** @type {Set<string>} VMs being started or stopped right now */
	const busy = new Set();
	/** @type {Map<string, string>} the last complaint about each VM file, so it is logged once */
	const complaints = new Map();
	/** @type {DriverContext | undefined} */
	let context;
	/** @type {Awaited<ReturnType<typeof readHostFacts>> | undefined} */
	let reportedFacts;
	/** @type {Array<() => void>} */
	const cleanups = [];
	let stopped = false;

	const log = (/** @type {string} */ line) => context?.emit({ type: "driver.log", line });
	const report = (/** @type {string} */ type, /** @type {unknown} */ data) =>
		context?.report(type, data);

	/** The definitions in `--vms-dir`; a malformed file is one log line and skipped. */
	function desiredVms() {
		/** @type {Map<string, Definition>} */
		const desired = new Map();
		let names;
		try {
			names = readdirSync(vmsDir).filter((name) => name.endsWith(".json"));
		} catch (error) {
			log(`cannot read --vms-dir ${vmsDir}: ${error instanceof Error ? error.message : error}`);
			return undefined;
		}
		for (const name of names) {
			const complaint = (/** @type {string} */ why) => {
				if (complaints.get(name) !== why) log(`${join(vmsDir, name)}: ${why}; VM not started`);
				complaints.set(name, why);
			};
			let parsed;
			try {
				parsed = VmDefinition.safeParse(JSON.parse(readFileSync(join(vmsDir, name), "utf8")));
			} catch (error) {
				complaint(error instanceof SyntaxError ? "not JSON" : "unreadable");
				continue;
			}
			if (!parsed.success) {
				const [issue] = parsed.error.issues;
				complaint(`${issue?.path.join(".") || "file"}: ${issue?.message}`);
				continue;
			}
			if (`${parsed.data.vmId}.json` !== name) {
				complaint(`vmId ${parsed.data.vmId} does not match the file name`);
				continue;
			}
			complaints.delete(name);
			desired.set(parsed.data.vmId, parsed.data);
		}
		return desired;
	}

	async function reconcile() {
		if (stopped) return;
		const desired = desiredVms();
		if (!desired) return;
		for (const [vmId, definition] of desired) {
			if (vms.has(vmId) || busy.has(vmId) || incoming.has(vmId)) continue;
			busy.add(vmId);
			startVm({ vm: definition, stateDir, runtime })
				.then((vm) => {
					if (stopped) return vm.release();
					keep(vm);
					log(`VM ${vmId} started (pid ${vm.pid}, ${runtime.accel})`);
				})
				.catch((error) => log(`VM ${vmId} did not start: ${error.message}`))
				.finally(() => busy.delete(vmId));
		}
		for (const [vmId, vm] of vms) {
			if (desired.has(vmId) || busy.has(vmId) || leaving(vmId)) continue;
			busy.add(vmId);
			vms.delete(vmId);
			log(`VM ${vmId} left --vms-dir: stopping it`);
			vm.stop(shutdownTimeoutMs)
				.then(() => rmSync(vm.paths.dir, { recursive: true, force: true }))
				.then(() => log(`VM ${vmId} stopped`))
				.finally(() => busy.delete(vmId));
		}
	}

	/** Whether the VM is being migrated away (reconcile must leave it alone). */
	function leaving(/** @type {string} */ vmId) {
		return [...outgoing.values()].some((migration) => migration.vmId === vmId);
	}

	/** Tracks a running VM; when its QEMU goes away on its own, the next reconcile restarts it. */
	function keep(/** @type {RunningVm} */ vm) {
		vms.set(vm.vmId, vm);
		void vm.exited.then(() => {
			if (vms.get(vm.vmId) !== vm || stopped) return;
			vms.delete(vm.vmId);
			log(`VM ${vm.vmId}'s QEMU exited: ${lastLines(vm.paths.log, 1) || "no reason logged"}`);
			void reconcile();
		});
	}

	/** Takes over the QEMUs a previous agent started. */
	async function takeOver() {
		let vmIds = [];
		try {
			vmIds = readdirSync(join(stateDir, "vms"));
		} catch {
			return;
		}
		for (const vmId of vmIds) {
			const vm = await adoptVm({ vmId, stateDir });
			if (!vm) {
				rmSync(join(stateDir, "vms", vmId), { recursive: true, force: true });
				continue;
			}
			const status = await vm.qmp.execute("query-status").catch(() => ({ status: "unknown" }));
			if (status.status === "inmigrate" || status.status === "postmigrate") {
				// An incoming copy or a VM that moved away while no agent watched: not ours to run.
				log(`VM ${vmId}'s QEMU is ${status.status} with no agent following it: stopping it`);
				await vm.quit();
				continue;
			}
			keep(vm);
			log(`took over VM ${vmId} (pid ${vm.pid})`);
		}
	}

	async function reportFacts(force = false) {
		const facts = await readHostFacts({ qemuVersion: runtime.version });
		if (!force && !factsChanged(reportedFacts, facts)) return;
		reportedFacts = facts;
		await report("host.facts", facts);
	}

	/** A VM that is starting (or whose file just appeared), once it runs; undefined after 30 s or when it does not. */
	async function startingVm(/** @type {string} */ vmId) {
		const deadline = Date.now() + consoleWaitMs;
		while (Date.now() < deadline && !stopped) {
			const vm = vms.get(vmId);
			if (vm) return vm;
			const expected = busy.has(vmId) || desiredVms()?.has(vmId) || incoming.has(vmId);
			if (!expected) return undefined;
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
		return vms.get(vmId);
	}

	/** Reads a VM's definition file back, as the source sends it to the target. */
	function definitionOf(/** @type {RunningVm} */ vm) {
		return vm.definition;
	}

	return {
		async start(driverContext) {
			context = driverContext;
			await takeOver();
			await reconcile();
			try {
				const watcher = watch(vmsDir, () => void reconcile());
				watcher.on("error", () => {});
				cleanups.push(() => watcher.close());
			} catch (error) {
				log(
					`cannot watch --vms-dir: ${error instanceof Error ? error.message : error}; reading it every ${reconcileEveryMs / 1000} s`,
				);
			}
			const reconcileTimer = setInterval(() => void reconcile(), reconcileEveryMs);
			const factsTimer = setInterval(() => void reportFacts().catch(() => {}), factsEveryMs);
			cleanups.push(
				() => clearInterval(reconcileTimer),
				() => clearInterval(factsTimer),
			);
		},

		async connected() {
			await reportFacts(true);
		},

		async openConsole(vmId, { output }) {
			const vm = vms.get(vmId) ?? (await startingVm(vmId));
			if (!vm) return { error: `VM ${vmId} does not run on this host` };
			const unsubscribe = vm.onOutput(output);
			// The screen as it is: a console opened at a quiet prompt shows the prompt.
			const recent = vm.recentOutput();
			if (recent.length > 0) output(recent);
			return {
				write: (data) => vm.write(data),
				close: unsubscribe,
			};
		},

		async check(command) {
			const executable = await findCheck(checksDir, command.subtask);
			// Killed a little before the control plane's deadline, so the result says why.
			const timeoutMs = (command.timeoutSeconds ?? defaultCheckTimeoutMs / 1000) * 900;
			if (executable) return runCheckExecutable(executable, command, timeoutMs);
			const builtin = builtinChecks[command.subtask];
			if (!builtin) {
				return {
					ok: false,
					detail: `${command.subtask}: no such check on a QEMU host (no built-in check, nothing in --checks-dir)`,
				};
			}
			return builtin({
				command,
				vm: vms.get(command.vmId),
				runtime,
				stateDir,
				bandwidthMiBs,
			}).catch((error) => ({
				ok: false,
				detail: `${command.subtask}: ${error instanceof Error ? error.message : error}`,
			}));
		},

		async migrate(command) {
			const { migrationId, vmId } = command;
			const vm = vms.get(vmId);
			if (!vm) {
				await report("migration.failed", {
					migrationId,
					reason: `VM ${vmId} does not run on this host`,
				});
				return;
			}
			outgoing.set(migrationId, { vmId, cancelled: false, copying: false });
			await report("migration.target_requested", { migrationId, vm: definitionOf(vm) });
		},

		async prepare(command) {
			const { migrationId, vmId, vm: definition } = command;
			const refuse = (/** @type {string} */ reason) =>
				report("migration.failed", { migrationId, reason: `target: ${reason}` });
			if (definition.vmId !== vmId) return void (await refuse("the definition names another VM"));
			if (vms.has(vmId) || incoming.has(vmId) || busy.has(vmId)) {
				return void (await refuse(`VM ${vmId} already runs on this host`));
			}
			busy.add(vmId);
			/** @type {RunningVm | undefined} */
			let vm;
			try {
				vm = await startVm({ vm: definition, stateDir, runtime, incoming: true });
				incoming.set(vmId, { migrationId, vm });
				const address = await listenForMigration(vm.qmp, migrationAddress);
				log(`VM ${vmId}: incoming QEMU listens at ${address} for ${migrationId}`);
				await report("migration.target_ready", { migrationId, address });
			} catch (error) {
				incoming.delete(vmId);
				await vm?.quit();
				busy.delete(vmId);
				return void (await refuse(
					`could not start QEMU: ${error instanceof Error ? error.message : error}`,
				));
			}
			busy.delete(vmId);
			const running = vm;
			try {
				await waitUntilIncomingRuns(running.qmp);
			} catch {
				// Cancelled, failed or abandoned: the source reports why; nothing runs here.
				if (incoming.get(vmId)?.vm === running) incoming.delete(vmId);
				await running.quit();
				rmSync(running.paths.dir, { recursive: true, force: true });
				log(`VM ${vmId}: incoming copy for ${migrationId} ended without the VM`);
				return;
			}
			// The VM runs here now: it is this host's, and the desired state says so.
			const file = join(vmsDir, `${vmId}.json`);
			writeFileSync(`${file}.incoming`, `${JSON.stringify(definition, null, "\t")}\n`, {
				mode: 0o644,
			});
			renameSync(`${file}.incoming`, file);
			incoming.delete(vmId);
			keep(running);
			log(`VM ${vmId} runs here after ${migrationId}`);
			await report("migration.completed", { migrationId });
		},

		async transfer(command) {
			const { migrationId, vmId, address } = command;
			const migration = outgoing.get(migrationId);
			const vm = vms.get(vmId);
			if (!migration || migration.cancelled || migration.copying || !vm) return;
			migration.copying = true;
			const onProgress = (/** @type {{percent: number, phase: string}} */ progress) => {
				void report("migration.progress", { migrationId, ...progress });
			};
			const outcome = await copyVm(vm.qmp, address, {
				bandwidthMiBs,
				onProgress,
				cancelled: () => migration.cancelled,
			}).catch((error) => ({
				status: /** @type {const} */ ("failed"),
				reason: String(error.message ?? error),
			}));
			if (outcome.status === "completed") {
				// One running copy: the file goes first, so nothing restarts the VM here, then QEMU.
				rmSync(join(vmsDir, `${vmId}.json`), { force: true });
				vms.delete(vmId);
				await vm.quit();
				rmSync(vm.paths.dir, { recursive: true, force: true });
				outgoing.delete(migrationId);
				log(
					`VM ${vmId} moved away (${migrationId}): ${outcome.stats.totalTimeMs} ms, downtime ${outcome.stats.downtimeMs} ms`,
				);
				await report("migration.progress", {
					migrationId,
					percent: 100,
					phase: "switched over",
					stats: outcome.stats,
				});
				return;
			}
			outgoing.delete(migrationId);
			// Told to cancel, QEMU may still say "failed" (the target's incoming QEMU went first).
			const reason =
				outcome.status === "cancelled" || migration.cancelled
					? "cancelled on request; the VM stays on the source"
					: outcome.reason;
			await report("migration.failed", { migrationId, reason });
		},

		async cancel(command) {
			const { migrationId } = command;
			const migration = outgoing.get(migrationId);
			if (migration) {
				migration.cancelled = true;
				// A copy under way sees the flag on its next poll and asks QEMU to stop.
				if (!migration.copying) {
					outgoing.delete(migrationId);
					await report("migration.failed", {
						migrationId,
						reason: "cancelled before the copy began; the VM stays on the source",
					});
				}
			}
			for (const [vmId, copy] of incoming) {
				if (copy.migrationId !== migrationId) continue;
				incoming.delete(vmId);
				await copy.vm.quit();
			}
		},

		notify() {},

		async stop() {
			stopped = true;
			for (const cleanup of cleanups) cleanup();
			// VMs outlive the agent: let go of every QEMU, stop none.
			for (const vm of vms.values()) vm.release();
			for (const copy of incoming.values()) copy.vm.release();
		},
	};
}
