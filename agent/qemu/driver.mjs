// @ts-check
// The QEMU driver: real VMs behind the agent's driver seam (../driver.mjs).
//
// `--vms-dir` is the desired state: one `<vmId>.json` per VM that should run
// here. The driver reconciles it with the QEMUs it runs (on every change of
// the directory and every few seconds), takes over the QEMUs a previous agent
// left running, and carries out consoles, checks and live migrations.
import { existsSync, readdirSync, readFileSync, rmSync, watch } from "node:fs";
import { join } from "node:path";
import { VmDefinition } from "../../shared/schemas/agent.ts";
import { findCheck, runCheckExecutable } from "../checks-dir.mjs";
import { builtinChecks } from "./checks.mjs";
import { factsChanged, readHostFacts } from "./facts.mjs";
import { createLiveMigrations } from "./live-migrations.mjs";
import { startProbeSink } from "./probe.mjs";
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
export function createQemuDriver(options) {
	const { vmsDir, stateDir, checksDir, runtime, shutdownTimeoutMs } = options;
	/** @type {Map<string, RunningVm>} VMs this host runs (its `--vms-dir` says so). */
	const vms = new Map();
	/** @type {Set<string>} VMs being started or stopped right now */
	const busy = new Set();
	/** @type {Map<string, string>} the last complaint about each VM file, so it is logged once */
	const complaints = new Map();
	/** @type {DriverContext | undefined} */
	let context;
	/** @type {Awaited<ReturnType<typeof readHostFacts>> | undefined} */
	let reportedFacts;
	/** @type {Awaited<ReturnType<typeof startProbeSink>> | undefined} where this host takes throughput probes */
	let probe;
	/** @type {Array<() => void>} */
	const cleanups = [];
	let stopped = false;

	const log = (/** @type {string} */ line) => context?.emit({ type: "driver.log", line });
	const report = (/** @type {string} */ type, /** @type {unknown} */ data) =>
		context?.report(type, data);
	const migrations = createLiveMigrations({
		...options,
		vms,
		busy,
		keep: (vm) => keep(vm),
		report,
		log,
	});

	/**
	 * The definitions in `--vms-dir`; a malformed file is one log line and
	 * skipped, an empty one (still being written) skipped without a word.
	 */
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
				const text = readFileSync(join(vmsDir, name), "utf8");
				if (text.trim() === "") continue;
				parsed = VmDefinition.safeParse(JSON.parse(text));
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
			if (vms.has(vmId) || busy.has(vmId) || migrations.arriving(vmId)) continue;
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
			// Only a file that is gone stops its VM: one being rewritten, or broken, leaves it running.
			const filed = existsSync(join(vmsDir, `${vmId}.json`));
			if (filed || desired.has(vmId) || busy.has(vmId) || migrations.leaving(vmId)) continue;
			busy.add(vmId);
			vms.delete(vmId);
			log(`VM ${vmId} left --vms-dir: stopping it`);
			vm.stop(shutdownTimeoutMs)
				.then(() => rmSync(vm.paths.dir, { recursive: true, force: true }))
				.then(() => log(`VM ${vmId} stopped`))
				.finally(() => busy.delete(vmId));
		}
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
			if (migrations.adopt(vm)) continue;
			const status = await vm.qmp.execute("query-status").catch(() => ({ status: "unknown" }));
			if (status.status === "inmigrate" || status.status === "postmigrate") {
				// A copy nobody recorded: not ours to run.
				log(`VM ${vmId}'s QEMU is ${status.status} with no migration on record: stopping it`);
				await vm.quit();
				continue;
			}
			keep(vm);
			log(`took over VM ${vmId} (pid ${vm.pid})`);
		}
	}

	async function reportFacts(force = false) {
		const measured = await readHostFacts({ qemuVersion: runtime.version });
		const facts = probe ? { ...measured, migrationProbe: probe.address } : measured;
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
			const filed = existsSync(join(vmsDir, `${vmId}.json`));
			const expected = filed || busy.has(vmId) || migrations.arriving(vmId);
			if (!expected) return undefined;
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
		return vms.get(vmId);
	}

	return {
		async start(driverContext) {
			context = driverContext;
			try {
				probe = await startProbeSink(options.migrationAddress);
				cleanups.push(() => probe?.close());
			} catch (error) {
				log(
					`no throughput probes on ${options.migrationAddress}: ${error instanceof Error ? error.message : error}`,
				);
			}
			await takeOver();
			await reconcile();
			try {
				// Debounced: a file is often written in several steps.
				/** @type {ReturnType<typeof setTimeout> | undefined} */
				let settling;
				const watcher = watch(vmsDir, () => {
					clearTimeout(settling);
					settling = setTimeout(() => void reconcile(), 200);
				});
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
				bandwidthMiBs: options.bandwidthMiBs,
			}).catch((error) => ({
				ok: false,
				detail: `${command.subtask}: ${error instanceof Error ? error.message : error}`,
			}));
		},

		migrate: (command) => migrations.migrate(command),
		prepare: (command) => migrations.prepare(command),
		transfer: (command) => migrations.transfer(command),
		cancel: (command) => migrations.cancel(command),

		notify() {},

		async stop() {
			stopped = true;
			for (const cleanup of cleanups) cleanup();
			// VMs outlive the agent: let go of every QEMU, stop none.
			for (const vm of vms.values()) vm.release();
			migrations.release();
		},
	};
}
