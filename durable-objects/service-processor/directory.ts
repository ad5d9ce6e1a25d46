import { broadcastDomain, fleet as fleetStub } from "../stubs";
import type { HostRecord } from "./host";

/**
 * Keeps the other objects' view of this host in step with its rows: the
 * Fleet directory entry, the broadcast domain membership, and the domain's
 * forwarding table (which VMs this SP holds). Each change is queued in
 * `directory_tasks` in the same write as the row it follows, then run in
 * order; a task that fails stays queued and the alarm retries it. Tasks are
 * idempotent, so a retry after a partial run is harmless.
 */

/** A change to the domain's forwarding table for one VM. */
export type HolderChange = "announce" | "withdraw";
type TaskKind = "directory" | "join" | "leave" | HolderChange;
type TaskRow = { seq: number; kind: TaskKind; domain: string; vm_id: string | null };

/** How long a failed directory task waits before the alarm retries it. */
export const directoryRetryMs = 5_000;

/** The queue of directory tasks and their runner. */
export class DirectorySync {
	private running: Promise<void> | undefined;

	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
		private readonly host: () => HostRecord | null,
		private readonly vmIds: () => string[],
	) {}

	/** Queues the tasks a host write implies: always the directory entry, and membership moves. */
	queueFor(domain: string, previousDomain?: string): void {
		this.sql.exec("INSERT INTO directory_tasks (kind, domain) VALUES ('directory', ?)", domain);
		if (previousDomain === domain) return;
		this.sql.exec("INSERT INTO directory_tasks (kind, domain) VALUES ('join', ?)", domain);
		if (previousDomain !== undefined) {
			this.sql.exec(
				"INSERT INTO directory_tasks (kind, domain) VALUES ('leave', ?)",
				previousDomain,
			);
		}
	}

	/**
	 * Queues telling the host's domain that this SP's table gained or lost the
	 * VM. Stale or lost announcements cost a placement lookup, never a wrong answer.
	 */
	queueHolder(change: HolderChange, domain: string, vmId: string): void {
		this.sql.exec(
			"INSERT INTO directory_tasks (kind, domain, vm_id) VALUES (?, ?, ?)",
			change,
			domain,
			vmId,
		);
	}

	/** True while tasks wait (the alarm then retries). */
	hasPending(): boolean {
		return this.sql.exec("SELECT 1 FROM directory_tasks LIMIT 1").toArray().length > 0;
	}

	/** Runs queued tasks in order; one runner at a time so joins and leaves keep their order. */
	run(): Promise<void> {
		this.running ??= this.drain().finally(() => {
			this.running = undefined;
		});
		return this.running;
	}

	private async drain(): Promise<void> {
		for (;;) {
			const [task] = this.sql
				.exec<TaskRow>("SELECT * FROM directory_tasks ORDER BY seq LIMIT 1")
				.toArray();
			const host = this.host();
			if (!task || !host) return;
			await this.perform(task, host);
			this.sql.exec("DELETE FROM directory_tasks WHERE seq = ?", task.seq);
		}
	}

	private async perform(task: TaskRow, host: HostRecord): Promise<void> {
		if (task.kind === "directory") {
			const fleet = fleetStub(this.env);
			// The current row, not the queued domain: the newest write wins.
			await fleet.upsertHost({ hostId: host.hostId, domain: host.domain, site: host.site });
			return;
		}
		const domain = broadcastDomain(this.env, task.domain);
		if (task.kind === "join") await domain.join(host.hostId, this.vmIds());
		else if (task.kind === "leave") await domain.leave(host.hostId);
		else if (task.vm_id === null)
			return; // holder changes always carry one (queueHolder)
		else if (task.kind === "announce") await domain.announce(host.hostId, task.vm_id);
		else await domain.withdraw(host.hostId, task.vm_id);
	}
}
