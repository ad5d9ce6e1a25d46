import { Outbox } from "../outbox";
import { broadcastDomain, fleet as fleetStub } from "../stubs";
import type { HostRecord } from "./host";

/**
 * Keeps the other objects' view of this host in step with its rows: the
 * Fleet directory entry, the broadcast domain membership, and the domain's
 * forwarding table (which VMs this SP holds). Each change is queued in the
 * object's outbox (../outbox.ts) in the same write as the row it follows,
 * then run in order in one lane; a task that fails stays queued and is
 * retried after its back-off, by the alarm if nothing sooner. Tasks are
 * idempotent, so a retry after a partial run is harmless.
 */

/** A change to the domain's forwarding table for one VM. */
export type HolderChange = "announce" | "withdraw";

/** One directory task as queued. */
export type DirectoryTask =
	| { kind: "directory" | "join" | "leave"; domain: string }
	| { kind: HolderChange; domain: string; vmId: string };

/** The outbox lane of directory tasks: one lane, so joins and leaves keep their order. */
export const directoryLane = "directory";

/** The queue of directory tasks and their runner. */
export class DirectorySync {
	readonly #outbox: Outbox<DirectoryTask>;

	constructor(
		sql: SqlStorage,
		private readonly env: Env,
		private readonly host: () => HostRecord | null,
		private readonly vmIds: () => string[],
	) {
		this.#outbox = new Outbox<DirectoryTask>(sql, {
			deliver: (task) => this.perform(task),
			laneOf: () => directoryLane,
		});
	}

	/** Queues the tasks a host write implies: always the directory entry, and membership moves. */
	queueFor(domain: string, previousDomain?: string): void {
		this.#outbox.add({ kind: "directory", domain });
		if (previousDomain === domain) return;
		this.#outbox.add({ kind: "join", domain });
		if (previousDomain !== undefined) this.#outbox.add({ kind: "leave", domain: previousDomain });
	}

	/**
	 * Queues telling the host's domain that this SP's table gained or lost the
	 * VM. Stale or lost announcements cost a placement lookup, never a wrong answer.
	 */
	queueHolder(change: HolderChange, domain: string, vmId: string): void {
		this.#outbox.add({ kind: change, domain, vmId });
	}

	/** When the alarm should next retry a task, if any waits. */
	nextAttemptMs(): number | undefined {
		return this.#outbox.nextAttemptMs();
	}

	/** Runs the due tasks in order; one that fails stays queued with its back-off. */
	run(): Promise<void> {
		return this.#outbox.flush();
	}

	private async perform(task: DirectoryTask): Promise<void> {
		const host = this.host();
		// Tasks are queued only once the host exists; the row is never deleted.
		if (!host) throw new Error("directory task without a host");
		const domain = broadcastDomain(this.env, task.domain);
		switch (task.kind) {
			case "directory":
				// The current row, not the queued domain: the newest write wins.
				return fleetStub(this.env).upsertHost({
					hostId: host.hostId,
					domain: host.domain,
					site: host.site,
				});
			case "join":
				return domain.join(host.hostId, this.vmIds());
			case "leave":
				return domain.leave(host.hostId);
			case "announce":
				return domain.announce(host.hostId, task.vmId);
			case "withdraw":
				return domain.withdraw(host.hostId, task.vmId);
		}
	}
}
