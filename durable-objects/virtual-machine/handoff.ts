/**
 * The SP-table handoff after `migration.completed`: export the row from the
 * source service processor, adopt it on the target, move the VM's placement,
 * release it on the source (closing sessions with `vm_migrated`), transfer
 * its functions, complete. Each step is persisted before the next and every
 * step is idempotent, so the alarm resumes an interrupted handoff. Between
 * adopt and release two tables hold the row; the placement decides which
 * answers a broadcast, and it moves only after the target has the row, so
 * the VM is never in zero tables and never answered from two. A migration
 * cancelled too late (the agent completed the move anyway) is handed over the
 * same way and stays `cancelled` (./cancellation.ts).
 */
import { asProblem } from "../../shared/problem";
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { pciDevice, serviceProcessor } from "../stubs";
import { handedOverAfterCancel, mayHandOver } from "./cancellation";
import type { MigrationChange, MigrationStore } from "./migration-store";
import type { AttachedFunction, VmPorts } from "./records";

/** What a handoff needs from the migration coordinator. */
export interface HandoffPorts {
	env: Env;
	ctx: DurableObjectState;
	store: MigrationStore;
	vm: VmPorts;
	/** Queues the migration's successful outcome (inside the completing transaction). */
	complete(record: MigrationRecord, now: Date): void;
	/** The failed record (queues the failed outcome). */
	fail(record: MigrationRecord, reason: string, now: Date): MigrationRecord;
	publish(change: MigrationChange): void;
}

/**
 * Moves the VM's virtual functions to the target host through team pci's
 * `transferToHost` on the device holding each driver mapping; it picks a
 * target device with a free slot and updates the VM's attached function.
 * Transfer ids derive from the migration, so a resumed handoff repeats the
 * same transfers instead of starting new ones.
 */
async function transferFunctions(
	env: Env,
	migrationId: string,
	functions: AttachedFunction[],
	targetHostId: string,
) {
	for (const fn of functions) {
		await pciDevice(env, fn.hostId, fn.bdf).transferToHost({
			virtualAddress: fn.virtualAddress,
			targetHostId,
			transferId: `${migrationId}/${fn.hostId}/${fn.bdf}/${fn.virtualAddress}`,
		});
	}
}

function finish(ports: HandoffPorts, record: MigrationRecord, ok: boolean, reason = "") {
	const now = new Date();
	const change = ports.ctx.storage.transactionSync(() => {
		ports.store.setHandoff(record.migrationId, { step: "done" });
		if (record.state === "cancelled") {
			if (ok) ports.complete(record, now);
			return ports.store.update(handedOverAfterCancel(record, ok, reason, now));
		}
		if (!ok) return ports.store.update(ports.fail(record, reason, now));
		ports.complete(record, now);
		return ports.store.update({
			...record,
			state: "completed",
			progress: { percent: 100 },
			updatedAt: now.toISOString(),
		});
	});
	ports.publish(change);
}

/** Runs the handoff of a migration from its stored step to the end; throws to pause it. */
export async function runHandoff(ports: HandoffPorts, migrationId: string): Promise<void> {
	const { env, store, vm } = ports;
	for (;;) {
		const state = store.handoff(migrationId);
		const record = store.get(migrationId);
		if (!state || !record || !mayHandOver(record) || state.step === "done") return;
		const source = serviceProcessor(env, record.sourceHostId);
		const target = serviceProcessor(env, record.targetHostId);
		switch (state.step) {
			case "export": {
				const row = await source.exportVm(record.vmId);
				if (!row) return finish(ports, record, false, "the VM left the source's table");
				store.setHandoff(migrationId, { step: "adopt", row });
				break;
			}
			case "adopt":
				await target.adoptVm(state.row);
				store.setHandoff(migrationId, { step: "move", row: state.row });
				break;
			case "move":
				try {
					await vm.movePlacement(record.sourceHostId, record.targetHostId);
				} catch (error) {
					if (asProblem(error)?.code !== "vm_not_found") throw error;
					// Deleted while migrating: undo the adoption rather than resurrect it.
					await target.releaseVm(record.vmId, "migration_rolled_back");
					return finish(ports, record, false, "the VM was deleted during the handoff");
				}
				store.setHandoff(migrationId, { step: "release", row: state.row });
				break;
			case "release":
				// Console sessions go on: their VM sides are dialled again from the target.
				await source.releaseVm(record.vmId, "vm_migrated", record.targetHostId);
				store.setHandoff(migrationId, { step: "functions", row: state.row });
				break;
			case "functions":
				await transferFunctions(env, migrationId, await vm.listFunctions(), record.targetHostId);
				return finish(ports, record, true);
		}
	}
}
