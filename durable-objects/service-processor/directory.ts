import { broadcastDomain, fleet as fleetStub } from "../stubs";
import type { HostRecord } from "./host";

/**
 * Keeps the other objects' view of this host in step with the host row:
 * the Fleet directory entry and the broadcast domain membership. Each change
 * is queued in `directory_tasks` in the same write as the host row, then run
 * in order; a task that fails stays queued and the alarm retries it. Tasks
 * are idempotent, so a retry after a partial run is harmless.
 */

type TaskKind = "directory" | "join" | "leave";
type TaskRow = { seq: number; kind: TaskKind; domain: string };

/** How long a failed directory task waits before the alarm retries it. */
export const directoryRetryMs = 5_000;

/** The queue of directory tasks and their runner. */
export class DirectorySync {
	private running: Promise<void> | undefined;

	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
		private readonly host: () => HostRecord | null,
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
		if (task.kind === "join") await domain.join(host.hostId);
		else await domain.leave(host.hostId);
	}
}
