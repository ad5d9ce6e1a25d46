/**
 * What a cancel means for where the VM runs. A cancel while `validating`
 * stops the migration before `migration.start` was ever sent. A cancel while
 * `migrating` races an agent that is already copying the VM: `migration.cancel`
 * may arrive after the copy finished. The agent's next report decides, and the
 * fleet follows the VM: `migration.completed` after the cancel hands the VM
 * over to the target as a completed migration would (the record stays
 * `cancelled`, with `cancellation.outcome: "too_late"`); `migration.failed`
 * confirms the VM stayed on the source.
 */
import { abandonOpen } from "../../shared/risk/progress";
import type {
	Cancellation,
	MigrationEvent,
	MigrationRecord,
} from "../../shared/schemas/migrations";
import type { MigrationChange, MigrationStore } from "./migration-store";

/** The record of a migration cancelled now, from `validating` or `migrating`. */
export function cancelledRecord(record: MigrationRecord, now: Date): MigrationRecord {
	const during = record.state === "validating" ? "validating" : "migrating";
	const cancellation: Cancellation =
		during === "validating"
			? {
					requestedAt: now.toISOString(),
					during,
					outcome: "stopped",
					detail: `cancelled before the migration started; the VM stays on ${record.sourceHostId}`,
				}
			: {
					requestedAt: now.toISOString(),
					during,
					outcome: "unconfirmed",
					detail: `cancelled while the agent was moving the VM; it counts as on ${record.sourceHostId} unless the agent reports migration.completed`,
				};
	return {
		...record,
		state: "cancelled",
		cancellation,
		validationSets: abandonOpen(record.validationSets, "migration cancelled"),
		updatedAt: now.toISOString(),
	};
}

/** True while a migration's handoff may run: it is migrating, or was cancelled too late. */
export function mayHandOver(record: MigrationRecord): boolean {
	return record.state === "migrating" || record.cancellation?.outcome === "too_late";
}

/**
 * Applies the agent's report on a cancelled migration; null when it changes
 * nothing (the cancel's outcome is already known, or the event is progress).
 * `migration.completed` queues the handoff, which the coordinator runs.
 */
export function applyAfterCancel(
	store: MigrationStore,
	record: MigrationRecord,
	event: MigrationEvent,
	now: Date,
): MigrationChange | null {
	const cancellation = record.cancellation;
	if (cancellation?.outcome !== "unconfirmed") return null;
	const updatedAt = now.toISOString();
	if (event.type === "migration.completed") {
		store.setHandoff(record.migrationId, { step: "export" });
		return store.update({
			...record,
			cancellation: {
				...cancellation,
				outcome: "too_late",
				detail: `the agent finished moving the VM before it could cancel; the VM runs on ${record.targetHostId}, so its SP-table row, placement and virtual functions are handed over there`,
			},
			progress: { percent: 100, phase: "handoff" },
			updatedAt,
		});
	}
	if (event.type === "migration.failed") {
		return store.update({
			...record,
			cancellation: {
				...cancellation,
				outcome: "stopped",
				detail: `the agent reported the migration failed after the cancel (${event.data.reason}); the VM stays on ${record.sourceHostId}`,
			},
			updatedAt,
		});
	}
	return null;
}

/** The record once the handoff of a migration cancelled too late has ended (`ok`) or could not run. */
export function handedOverAfterCancel(
	record: MigrationRecord,
	ok: boolean,
	reason: string,
	now: Date,
): MigrationRecord {
	const cancellation = record.cancellation;
	const ended = { ...record, progress: { percent: 100 }, updatedAt: now.toISOString() };
	if (ok || !cancellation) return ended;
	return {
		...ended,
		cancellation: {
			...cancellation,
			detail: `the agent reported migration.completed after the cancel, but the handoff could not run: ${reason}`,
		},
	};
}
