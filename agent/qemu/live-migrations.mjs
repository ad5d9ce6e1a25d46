// @ts-check
// Live migrations on a QEMU host, in both roles. As the target it starts an
// incoming QEMU and says where it listens; as the source it copies the VM
// there and follows QEMU's counters; either way it records the migration in
// the VM's state directory, so an agent that restarts mid-copy follows the
// copy to its end. The QEMU-level steps are in ./migration.mjs.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { copyVm, followCopy, listenForMigration, waitUntilIncomingRuns } from "./migration.mjs";
import { startVm } from "./vm-process.mjs";

/** @typedef {import("./vm-process.mjs").RunningVm} RunningVm */

/**
 * The migration a VM's QEMU takes part in, as its state directory records it.
 * @param {string} path
 * @returns {{migrationId: string, role: "source" | "target"} | undefined}
 */
function readMigration(path) {
	try {
		const recorded = JSON.parse(readFileSync(path, "utf8"));
		const known =
			typeof recorded?.migrationId === "string" && ["source", "target"].includes(recorded.role);
		return known ? recorded : undefined;
	} catch {
		return undefined;
	}
}

/**
 * @param {{
 *   vms: Map<string, RunningVm>,
 *   busy: Set<string>,
 *   keep: (vm: RunningVm) => void,
 *   report: (type: string, data: unknown) => unknown,
 *   log: (line: string) => void,
 *   vmsDir: string,
 *   stateDir: string,
 *   runtime: import("./vm-process.mjs").QemuRuntime,
 *   migrationAddress: string,
 *   bandwidthMiBs?: number,
 * }} host the driver's VMs and how it reports
 */
export function createLiveMigrations(host) {
	const { vms, busy, keep, report, log, vmsDir, stateDir, runtime } = host;
	/** @type {Map<string, {migrationId: string, vm: RunningVm}>} incoming copies, by VM id */
	const incoming = new Map();
	/** @type {Map<string, {vmId: string, cancelled: boolean, copying: boolean}>} outgoing, by migration id */
	const outgoing = new Map();

	/** Progress reports and the cancel flag of one outgoing copy. */
	function followOptions(/** @type {string} */ migrationId) {
		return {
			onProgress: (/** @type {{percent: number, phase: string}} */ progress) => {
				void report("migration.progress", { migrationId, ...progress });
			},
			cancelled: () => outgoing.get(migrationId)?.cancelled === true,
		};
	}

	/**
	 * The end of an outgoing copy: once QEMU completed it, the VM's file goes
	 * first (so nothing restarts it here), then its QEMU; otherwise the VM runs
	 * on here and the control plane hears why.
	 * @param {string} migrationId @param {RunningVm} vm
	 * @param {Promise<import("./migration.mjs").CopyOutcome>} copy
	 */
	async function finishOutgoing(migrationId, vm, copy) {
		const { vmId } = vm;
		const outcome = await copy.catch((error) => ({
			status: /** @type {const} */ ("failed"),
			reason: String(error.message ?? error),
		}));
		const cancelled = outgoing.get(migrationId)?.cancelled === true;
		outgoing.delete(migrationId);
		if (outcome.status === "completed") {
			rmSync(join(vmsDir, `${vmId}.json`), { force: true });
			vms.delete(vmId);
			await vm.quit();
			rmSync(vm.paths.dir, { recursive: true, force: true });
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
		rmSync(vm.paths.migration, { force: true });
		// Told to cancel, QEMU may still say "failed" (the target's incoming QEMU went first).
		const reason =
			outcome.status === "cancelled" || cancelled
				? "cancelled on request; the VM stays on the source"
				: outcome.reason;
		await report("migration.failed", { migrationId, reason });
	}

	/**
	 * The end of an incoming copy: once the VM runs here it is this host's,
	 * and the desired state says so; otherwise (cancelled, failed, abandoned)
	 * nothing runs here and the source reports why.
	 * @param {string} migrationId @param {RunningVm} vm
	 */
	async function finishIncoming(migrationId, vm) {
		const { vmId } = vm;
		try {
			await waitUntilIncomingRuns(vm.qmp);
		} catch {
			if (incoming.get(vmId)?.vm === vm) incoming.delete(vmId);
			await vm.quit();
			rmSync(vm.paths.dir, { recursive: true, force: true });
			log(`VM ${vmId}: incoming copy for ${migrationId} ended without the VM`);
			return;
		}
		const file = join(vmsDir, `${vmId}.json`);
		writeFileSync(`${file}.incoming`, `${JSON.stringify(vm.definition, null, "\t")}\n`, {
			mode: 0o644,
		});
		renameSync(`${file}.incoming`, file);
		rmSync(vm.paths.migration, { force: true });
		incoming.delete(vmId);
		keep(vm);
		log(`VM ${vmId} runs here after ${migrationId}`);
		await report("migration.completed", { migrationId });
	}

	return {
		/** Whether the VM is being copied here. */
		arriving: (/** @type {string} */ vmId) => incoming.has(vmId),
		/** Whether the VM is being migrated away (reconcile must leave it alone). */
		leaving: (/** @type {string} */ vmId) =>
			[...outgoing.values()].some((migration) => migration.vmId === vmId),

		/**
		 * At takeover: follows the migration a QEMU takes part in, if its state
		 * directory records one; false when it records none.
		 * @param {RunningVm} vm
		 */
		adopt(vm) {
			const { vmId } = vm;
			const migration = readMigration(vm.paths.migration);
			if (migration?.role === "target") {
				// An incoming copy: it becomes this host's VM once it runs.
				incoming.set(vmId, { migrationId: migration.migrationId, vm });
				log(`took over the incoming copy of VM ${vmId} for ${migration.migrationId}`);
				void finishIncoming(migration.migrationId, vm);
				return true;
			}
			if (migration?.role === "source") {
				// A copy under way (or ended) while no agent watched: follow it to its end.
				keep(vm);
				const { migrationId } = migration;
				outgoing.set(migrationId, { vmId, cancelled: false, copying: true });
				log(`took over VM ${vmId} (pid ${vm.pid}) and its migration ${migrationId}`);
				void finishOutgoing(migrationId, vm, followCopy(vm.qmp, followOptions(migrationId)));
				return true;
			}
			return false;
		},

		/** @param {import("../driver.mjs").MigrationStart} command */
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
			await report("migration.target_requested", { migrationId, vm: vm.definition });
		},

		/** @param {import("../driver.mjs").MigrationPrepare} command */
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
				writeFileSync(vm.paths.migration, JSON.stringify({ migrationId, role: "target" }));
				incoming.set(vmId, { migrationId, vm });
				const address = await listenForMigration(vm.qmp, host.migrationAddress);
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
			await finishIncoming(migrationId, vm);
		},

		/** @param {import("../driver.mjs").MigrationTransfer} command */
		async transfer(command) {
			const { migrationId, vmId, address } = command;
			const migration = outgoing.get(migrationId);
			const vm = vms.get(vmId);
			if (!migration || migration.cancelled || migration.copying || !vm) return;
			migration.copying = true;
			// Kept with the VM, so an agent that restarts mid-copy follows it on.
			writeFileSync(vm.paths.migration, JSON.stringify({ migrationId, role: "source" }));
			const copy = copyVm(vm.qmp, address, {
				bandwidthMiBs: host.bandwidthMiBs,
				...followOptions(migrationId),
			});
			await finishOutgoing(migrationId, vm, copy);
		},

		/** @param {import("../driver.mjs").MigrationCancel} command */
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

		/** The agent is exiting: incoming copies run on too. */
		release() {
			for (const copy of incoming.values()) copy.vm.release();
		},
	};
}
