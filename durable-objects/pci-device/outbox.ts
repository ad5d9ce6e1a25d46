/**
 * A transactional outbox: messages for other objects (driver notifications
 * for the host agent, attached-function updates for the VM) are written in the
 * same transaction as the state change they announce, then delivered in order
 * per channel, at least once. A failed delivery blocks only its own channel
 * and is retried with back-off by the object's alarm, so `vf.hold` always
 * reaches the service processor before the `vf.lift` that follows it.
 */
import { deliver, type OutboxMessage } from "./peers";

const maxBackoffMs = 60_000;

interface OutboxRow extends Record<string, SqlStorageValue> {
	seq: number;
	channel: string;
	payload: string;
	attempts: number;
	next_attempt_ms: number;
}

/** The outbox of one PciDevice. */
export class Outbox {
	#flushing: Promise<void> | undefined;
	#flushAgain = false;

	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
	) {}

	/** Queues a message; call inside the transaction of the change it announces. */
	add(message: OutboxMessage, nowMs: number): void {
		this.sql.exec(
			"INSERT INTO outbox (channel, payload, next_attempt_ms) VALUES (?, ?, ?)",
			message.channel,
			JSON.stringify(message),
			nowMs,
		);
	}

	/** When the next retry is due, if any message is waiting. */
	nextAttemptMs(): number | undefined {
		const [row] = this.sql
			.exec<{ due: number | null }>("SELECT MIN(next_attempt_ms) AS due FROM outbox")
			.toArray();
		return row?.due ?? undefined;
	}

	/**
	 * Delivers every due message. Concurrent callers share one pass; a message
	 * added while a pass runs is picked up by a further pass before it resolves.
	 */
	flush(): Promise<void> {
		this.#flushAgain = true;
		if (!this.#flushing) {
			this.#flushing = (async () => {
				while (this.#flushAgain) {
					this.#flushAgain = false;
					await this.#deliverDue();
				}
			})().finally(() => {
				this.#flushing = undefined;
			});
		}
		return this.#flushing;
	}

	async #deliverDue(): Promise<void> {
		const blocked = new Set<string>();
		const rows = this.sql.exec<OutboxRow>("SELECT * FROM outbox ORDER BY seq").toArray();
		for (const row of rows) {
			if (blocked.has(row.channel) || row.next_attempt_ms > Date.now()) {
				blocked.add(row.channel);
				continue;
			}
			try {
				await deliver(this.env, JSON.parse(row.payload) as OutboxMessage);
				this.sql.exec("DELETE FROM outbox WHERE seq = ?", row.seq);
			} catch {
				const attempts = row.attempts + 1;
				const backoffMs = Math.min(maxBackoffMs, 250 * 2 ** Math.min(attempts, 8));
				this.sql.exec(
					"UPDATE outbox SET attempts = ?, next_attempt_ms = ? WHERE seq = ?",
					attempts,
					Date.now() + backoffMs,
					row.seq,
				);
				blocked.add(row.channel);
			}
		}
	}
}
