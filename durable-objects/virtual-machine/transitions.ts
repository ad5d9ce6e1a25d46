/**
 * The state transitions of a migration, each run inside one storage
 * transaction by the coordinator: they update the record and queue the
 * cross-object calls the new state implies in the same transaction, so a
 * committed state always comes with its calls.
 */
import { Problem } from "../../shared/problem";
import {
	abandonOpen,
	applyResult,
	parseSubtaskKey,
	resultKey,
	verdictOf,
} from "../../shared/risk/progress";
import type {
	MigrationEvent,
	MigrationRecord,
	SubtaskState,
} from "../../shared/schemas/migrations";
import { applyAfterCancel } from "./cancellation";
import {
	isTerminal,
	type MigrationChange,
	type MigrationStore,
	type OutboxCall,
} from "./migration-store";

/** The outbox call recording how a migration ended (for `history.targetFailures`). */
export function outcomeCall(record: MigrationRecord, failed: boolean, now: Date): OutboxCall {
	return {
		kind: "outcome",
		migrationId: record.migrationId,
		targetHostId: record.targetHostId,
		failed,
		finishedAtMs: now.getTime(),
	};
}

/**
 * The record failed at `stage`; open work is marked skipped and the outcome
 * queued for the target's history, unless the target had no part in it.
 */
export function failed(
	store: MigrationStore,
	record: MigrationRecord,
	stage: "validation" | "migration",
	reason: string,
	now: Date,
	{ countAgainstTarget = true } = {},
): MigrationRecord {
	if (countAgainstTarget) store.enqueue(outcomeCall(record, true, now));
	return {
		...record,
		state: "failed",
		failure: { stage, reason },
		validationSets: abandonOpen(record.validationSets, `migration failed: ${reason}`),
		updatedAt: now.toISOString(),
	};
}

/** After validation changed: fail, start the migration (queueing `migration.start`), or keep waiting. */
export function settled(
	store: MigrationStore,
	record: MigrationRecord,
	now: Date,
): MigrationRecord {
	const verdict = verdictOf(record.validationSets);
	const updatedAt = now.toISOString();
	if (verdict.verdict === "failed") return failed(store, record, "validation", verdict.reason, now);
	if (verdict.verdict === "waiting") return { ...record, updatedAt };
	store.enqueue({
		kind: "agent",
		hostId: record.sourceHostId,
		command: {
			type: "migration.start",
			migrationId: record.migrationId,
			vmId: record.vmId,
			targetHostId: record.targetHostId,
		},
	});
	return { ...record, state: "migrating", updatedAt };
}

/** A dry run's record: what would happen, with agent subtasks left pending. */
export function preview(record: MigrationRecord): MigrationRecord {
	const verdict = verdictOf(record.validationSets);
	if (verdict.verdict === "failed") {
		return { ...record, state: "failed", failure: { stage: "validation", reason: verdict.reason } };
	}
	return verdict.verdict === "passed" ? { ...record, state: "migrating" } : record;
}

/** The subtask a key (`setId/subtaskId`) names in the record, if any. */
function subtaskAt(record: MigrationRecord, key: string): SubtaskState | undefined {
	const { validationSet, subtask } = parseSubtaskKey(key);
	return record.validationSets
		.find((set) => set.id === validationSet)
		?.subtasks.find((one) => one.id === subtask);
}

/** The host whose agent runs a subtask: its `runsOn`, the source by default. */
function runnerOf(record: MigrationRecord, subtask: SubtaskState | undefined): string {
	return subtask?.runsOn === "target" ? record.targetHostId : record.sourceHostId;
}

/** Queues `validation.run` for one agent subtask (key `setId/subtaskId`) to the agent that runs it. */
export function queueValidation(
	store: MigrationStore,
	record: MigrationRecord,
	key: string,
	vm: { memoryMiB: number; vcpus: number },
	targetProbe: string | undefined,
) {
	const { validationSet, subtask } = parseSubtaskKey(key);
	const state = subtaskAt(record, key);
	store.enqueue({
		kind: "agent",
		hostId: runnerOf(record, state),
		command: {
			type: "validation.run",
			migrationId: record.migrationId,
			validationSet,
			subtask,
			...(state?.timeoutSeconds ? { timeoutSeconds: state.timeoutSeconds } : {}),
			vm,
			...(targetProbe ? { targetProbe } : {}),
			vmId: record.vmId,
			sourceHostId: record.sourceHostId,
			targetHostId: record.targetHostId,
		},
	});
}

/**
 * Applies an agent's event; null when it changes nothing (late, repeated, or
 * arriving in a state where it has no meaning). `migration.completed` only
 * records the start of the handoff; the coordinator runs it. A cancelled
 * migration still hears the agent's report on where the VM ended (./cancellation.ts).
 */
export function applyEvent(
	store: MigrationStore,
	record: MigrationRecord,
	hostId: string,
	event: MigrationEvent,
): MigrationChange | null {
	refuseStranger(record, hostId, event);
	// The hypervisor's measurements go on the record with whatever else the
	// event does; they may also arrive after the target reported completion.
	const stats = "stats" in event.data ? event.data.stats : undefined;
	const measured =
		stats && !record.stats && record.state !== "failed" ? { ...record, stats } : record;
	const change = applyReport(store, measured, event);
	if (change || measured === record) return change;
	return store.update({ ...measured, updatedAt: new Date().toISOString() });
}

/** What an event does to the record, apart from the hypervisor's stats. */
function applyReport(
	store: MigrationStore,
	record: MigrationRecord,
	event: MigrationEvent,
): MigrationChange | null {
	const now = new Date();
	const handingOver = store.handoff(record.migrationId) !== null;
	const updatedAt = now.toISOString();
	if (record.state === "cancelled") return applyAfterCancel(store, record, event, now);
	switch (event.type) {
		case "validation.result": {
			if (record.state !== "validating") return null;
			const { subtask, validationSet, ok, detail } = event.data;
			const key = resultKey(record.validationSets, subtask, validationSet);
			if (key === undefined) return null;
			const { sets, applied } = applyResult(record.validationSets, key, ok, detail);
			if (!applied) return null;
			return store.update(settled(store, { ...record, validationSets: sets }, now));
		}
		case "migration.progress": {
			if (record.state !== "migrating" || handingOver) return null;
			const { percent, phase } = event.data;
			// Deliveries retried out of order must not move progress backwards.
			if (percent < record.progress.percent) return null;
			const progress = phase === undefined ? { percent } : { percent, phase };
			return store.update({ ...record, progress, updatedAt });
		}
		case "migration.target_requested": {
			if (record.state !== "migrating" || handingOver || targetInvolved(record)) return null;
			store.enqueue({
				kind: "agent",
				hostId: record.targetHostId,
				command: {
					type: "migration.prepare",
					migrationId: record.migrationId,
					vmId: record.vmId,
					sourceHostId: record.sourceHostId,
					vm: event.data.vm,
				},
			});
			const progress = { percent: record.progress.percent, phase: preparingTarget };
			return store.update({ ...record, progress, updatedAt });
		}
		case "migration.target_ready": {
			if (record.state !== "migrating" || handingOver || record.targetAddress) return null;
			const { address } = event.data;
			store.enqueue({
				kind: "agent",
				hostId: record.sourceHostId,
				command: {
					type: "migration.transfer",
					migrationId: record.migrationId,
					vmId: record.vmId,
					targetHostId: record.targetHostId,
					address,
				},
			});
			const progress = { percent: record.progress.percent, phase: "copying" };
			return store.update({ ...record, targetAddress: address, progress, updatedAt });
		}
		case "migration.completed": {
			if (record.state !== "migrating" || handingOver) return null;
			store.setHandoff(record.migrationId, { step: "export" });
			return store.update({ ...record, progress: { percent: 100, phase: "handoff" }, updatedAt });
		}
		case "migration.failed": {
			if (isTerminal(record) || handingOver) return null;
			const stage = record.state === "validating" ? "validation" : "migration";
			if (targetInvolved(record)) stopTarget(store, record);
			return store.update(failed(store, record, stage, event.data.reason, now));
		}
	}
}

/** The phase while the target host starts its incoming hypervisor. */
const preparingTarget = "preparing target";

/** Whether the target host was asked to prepare for the VM (real hosts). */
export function targetInvolved(record: MigrationRecord): boolean {
	return record.targetAddress !== undefined || record.progress.phase === preparingTarget;
}

/** Queues `migration.cancel` to the target, so its incoming hypervisor goes away. */
export function stopTarget(store: MigrationStore, record: MigrationRecord): void {
	store.enqueue({
		kind: "agent",
		hostId: record.targetHostId,
		command: { type: "migration.cancel", migrationId: record.migrationId },
	});
}

/**
 * A host reports only on work it was given (API.md, "Agent webhooks"): a
 * subtask's result comes from the host it ran on; the source reports the
 * copy; the target only once it was asked to prepare for the VM.
 */
function refuseStranger(record: MigrationRecord, hostId: string, event: MigrationEvent): void {
	const { sourceHostId, targetHostId } = record;
	let allowed: string[];
	if (event.type === "validation.result") {
		const { subtask, validationSet } = event.data;
		const key = resultKey(record.validationSets, subtask, validationSet);
		allowed = [runnerOf(record, key === undefined ? undefined : subtaskAt(record, key))];
	} else if (event.type === "migration.target_requested") {
		allowed = [sourceHostId];
	} else if (event.type === "migration.target_ready") {
		allowed = [targetHostId];
	} else {
		allowed = targetInvolved(record) ? [sourceHostId, targetHostId] : [sourceHostId];
	}
	if (!allowed.includes(hostId)) {
		throw new Problem(
			"forbidden",
			`host ${hostId} was given no ${event.type} work for this migration`,
		);
	}
}
