/**
 * A VM's migrations, run inside its VirtualMachine object (team migration's
 * part of that object). The object's single-threaded storage makes "one
 * migration per VM" a check-and-insert with no await in between; every
 * state change commits before the calls it implies (kept in an outbox), and
 * the alarm resumes sending, times out subtasks and continues handoffs, so
 * nothing depends on the object staying in memory.
 */

import { log } from "../../shared/log";
import { newOwnedId } from "../../shared/owned-id";
import { Problem } from "../../shared/problem";
import { assess } from "../../shared/risk";
import { dispatchPending, expireOverdue, nextDeadlineMs } from "../../shared/risk/progress";
import type {
	MigrationEvent,
	MigrationRecord,
	MigrationRequest,
} from "../../shared/schemas/migrations";
import { Outbox } from "../outbox";
import { serviceProcessor } from "../stubs";
import { cancelledRecord } from "./cancellation";
import { type HandoffPorts, runHandoff } from "./handoff";
import { gatherInputs, historyWindowMs } from "./migration-facts";
import { isTerminal, MigrationStore, migrationLane, type OutboxCall } from "./migration-store";
import { MigrationStreams } from "./migration-stream";
import type { VmPorts } from "./records";
import {
	applyEvent,
	failed,
	outcomeCall,
	preview,
	queueValidation,
	settled,
	stopTarget,
	targetInvolved,
} from "./transitions";

/** Delay before the alarm continues a handoff that paused. */
const handoffRetryMs = 2_000;

/** The outcome of applying an agent's event: whether it changed anything. */
export interface EventOutcome {
	applied: boolean;
	state: MigrationRecord["state"];
}

/** Runs one VM's migrations; one instance per VirtualMachine object. */
export class MigrationCoordinator {
	readonly store: MigrationStore;
	readonly streams = new MigrationStreams();
	/** The cross-object calls that committed states imply (the object's outbox). */
	readonly #calls: Outbox<OutboxCall>;
	#handoff: Promise<void> | undefined;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly vm: VmPorts,
	) {
		this.#calls = new Outbox<OutboxCall>(ctx.storage.sql, {
			deliver: (call) => this.make(call),
			laneOf: () => migrationLane,
		});
		this.store = new MigrationStore(ctx.storage.sql, this.#calls);
	}

	/** Assesses a migration and, unless a dry run, records it and starts validating. */
	async request(input: MigrationRequest): Promise<MigrationRecord> {
		const vmId = this.vm.vmId();
		this.refuseIfActive();
		const now = new Date();
		const since = new Date(now.getTime() - historyWindowMs).toISOString();
		const inputs = await gatherInputs(
			this.env,
			{
				vmId,
				placement: await this.vm.getPlacement(),
				functions: await this.vm.listFunctions(),
				history: this.store.history(since),
			},
			input.targetHostId,
			now,
		);
		const { assessment, validationSets } = assess(inputs.policy, inputs.context);
		const created: MigrationRecord = {
			// Names its VM, so its routes reach this object without an index.
			migrationId: newOwnedId(vmId),
			vmId,
			sourceHostId: inputs.context.source.hostId,
			targetHostId: input.targetHostId,
			state: "validating",
			progress: { percent: 0 },
			assessment,
			validationSets,
			createdAt: now.toISOString(),
			updatedAt: now.toISOString(),
		};
		if (input.dryRun) return { ...preview(created), dryRun: true };
		const change = this.ctx.storage.transactionSync(() => {
			// Re-checked here: other requests may have committed while facts were gathered.
			this.refuseIfActive();
			const { sets, dispatched } = dispatchPending(created.validationSets, now.getTime());
			const record = settled(this.store, { ...created, validationSets: sets }, now);
			// A builtin failure fails the migration at once: its agent subtasks are never sent.
			if (record.state === "validating") {
				const { memoryMiB, vcpus } = inputs.context.vm;
				const probe = inputs.context.target.facts.migrationProbe;
				const targetProbe = typeof probe === "string" ? probe : undefined;
				for (const key of dispatched) {
					queueValidation(this.store, record, key, { memoryMiB, vcpus }, targetProbe);
				}
			}
			return this.store.insert(record);
		});
		this.streams.publish(change);
		await this.afterChange();
		return this.store.get(change.record.migrationId) ?? change.record;
	}

	/** A migration of this VM, or null. */
	get(migrationId: string): MigrationRecord | null {
		return this.store.get(migrationId);
	}

	/** This VM's migrations, newest first. */
	list(): MigrationRecord[] {
		return this.store.list();
	}

	/**
	 * Cancels a migration that is still validating or migrating (before its
	 * handoff). Cancelled while migrating, the agent's next report still
	 * decides where the VM ends (see ./cancellation.ts).
	 */
	async cancel(migrationId: string): Promise<MigrationRecord> {
		const change = this.ctx.storage.transactionSync(() => {
			const record = this.mustGet(migrationId);
			if (isTerminal(record)) {
				throw new Problem("not_cancellable", `migration ${migrationId} is already ${record.state}`);
			}
			if (this.store.handoff(migrationId)) {
				throw new Problem("not_cancellable", `migration ${migrationId} is handing the VM over`);
			}
			this.store.enqueue({
				kind: "agent",
				hostId: record.sourceHostId,
				command: { type: "migration.cancel", migrationId },
			});
			if (targetInvolved(record)) stopTarget(this.store, record);
			return this.store.update(cancelledRecord(record, new Date()));
		});
		this.streams.publish(change);
		await this.afterChange();
		return change.record;
	}

	/**
	 * The VM left `hostId`'s table (removed by an admin): a migration it was
	 * the source of fails, and its agent is told to stop, so nothing moves a
	 * VM enrolled again under the same id later. A handoff already running
	 * finishes as it is.
	 */
	async abandon(hostId: string): Promise<void> {
		const change = this.ctx.storage.transactionSync(() => {
			const record = this.store.active();
			if (!record || record.sourceHostId !== hostId || this.store.handoff(record.migrationId)) {
				return null;
			}
			this.store.enqueue({
				kind: "agent",
				hostId,
				command: { type: "migration.cancel", migrationId: record.migrationId },
			});
			const stage = record.state === "validating" ? "validation" : "migration";
			const reason = `the VM was removed from ${hostId}`;
			// An admin's removal is no failure of the target: its history does not count it.
			const ended = failed(this.store, record, stage, reason, new Date(), {
				countAgainstTarget: false,
			});
			return this.store.update(ended);
		});
		if (!change) return;
		this.streams.publish(change);
		await this.afterChange();
	}

	/** Applies a verified agent event from `hostId` (a party to the migration). */
	async applyEvent(hostId: string, event: MigrationEvent): Promise<EventOutcome> {
		const { migrationId } = event.data;
		const record = this.store.get(migrationId);
		if (!record) throw new Problem("not_found", `no migration ${migrationId}`);
		const next = this.ctx.storage.transactionSync(() =>
			applyEvent(this.store, record, hostId, event),
		);
		if (next) this.streams.publish(next);
		await this.afterChange();
		const latest = this.mustGet(migrationId);
		return { applied: next !== null, state: latest.state };
	}

	/** An SSE stream of a migration's changes, from `afterSeq` or from its current state. */
	events(migrationId: string, afterSeq?: number): ReadableStream<Uint8Array> {
		const current = this.mustGet(migrationId);
		const latest = this.store.latestChange(migrationId);
		const backlog =
			afterSeq === undefined
				? latest
					? [latest]
					: []
				: this.store.changesAfter(migrationId, afterSeq);
		return this.streams.open(migrationId, backlog, current);
	}

	/** The alarm: resend queued calls, time out subtasks, continue a handoff. */
	async alarm(): Promise<void> {
		const active = this.store.active();
		if (active?.state === "validating") {
			const now = new Date();
			const change = this.ctx.storage.transactionSync(() => {
				const sets = expireOverdue(active.validationSets, now.getTime());
				if (JSON.stringify(sets) === JSON.stringify(active.validationSets)) return null;
				return this.store.update(settled(this.store, { ...active, validationSets: sets }, now));
			});
			if (change) this.streams.publish(change);
		}
		await this.afterChange();
	}

	private refuseIfActive() {
		const active = this.store.active();
		if (active) {
			throw new Problem(
				"migration_in_progress",
				`VM ${active.vmId} is already migrating (${active.migrationId}, ${active.state})`,
			);
		}
		// A cancelled migration the agent completed anyway is still handing the VM over.
		const [handoff] = this.store.pendingHandoffs();
		if (handoff) {
			throw new Problem(
				"migration_in_progress",
				`the VM is still being handed over to the target of ${handoff}`,
			);
		}
	}

	private mustGet(migrationId: string): MigrationRecord {
		const record = this.store.get(migrationId);
		if (!record) throw new Problem("not_found", `no migration ${migrationId}`);
		return record;
	}

	/**
	 * Makes the queued calls, continues a handoff, and sets the alarm for what
	 * is left. The alarm is set first too, so work interrupted by eviction in
	 * between still resumes.
	 */
	private async afterChange(): Promise<void> {
		await this.scheduleAlarm();
		await this.#calls.flush();
		// With no handoff pending both return at once.
		await this.handoffs();
		await this.#calls.flush();
		await this.scheduleAlarm();
	}

	private handoffs(): Promise<void> {
		// One handoff run at a time: a second completion webhook waits for the first.
		this.#handoff ??= this.runPendingHandoffs().finally(() => {
			this.#handoff = undefined;
		});
		return this.#handoff;
	}

	private async runPendingHandoffs(): Promise<void> {
		for (const migrationId of this.store.pendingHandoffs()) {
			await runHandoff(this.handoffPorts(), migrationId).catch((error) =>
				log("warn", "migration handoff paused", { migrationId, error: String(error) }),
			);
		}
	}

	private handoffPorts(): HandoffPorts {
		return {
			env: this.env,
			ctx: this.ctx,
			store: this.store,
			vm: this.vm,
			complete: (record, now) => this.store.enqueue(outcomeCall(record, false, now)),
			fail: (record, reason, now) => failed(this.store, record, "migration", reason, now),
			publish: (change) => this.streams.publish(change),
		};
	}

	private async make(call: OutboxCall): Promise<void> {
		switch (call.kind) {
			case "outcome":
				return serviceProcessor(this.env, call.targetHostId).recordMigrationOutcome(call);
			case "agent": {
				await serviceProcessor(this.env, call.hostId).enqueueAgentCommand(call.command);
				return;
			}
		}
	}

	private async scheduleAlarm(): Promise<void> {
		const now = Date.now();
		const wakeups: number[] = [];
		const nextCallMs = this.#calls.nextAttemptMs();
		if (nextCallMs !== undefined) wakeups.push(nextCallMs);
		const active = this.store.active();
		if (active) {
			const deadline = nextDeadlineMs(active.validationSets);
			if (deadline !== undefined) wakeups.push(deadline);
		}
		if (this.store.pendingHandoffs().length > 0) wakeups.push(now + handoffRetryMs);
		if (wakeups.length > 0) await this.ctx.storage.setAlarm(Math.min(...wakeups));
	}
}
