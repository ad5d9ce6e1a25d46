/**
 * A transactional outbox: messages for other objects (driver notifications
 * for the host agent, attached-function updates for the VM) are written in the
 * same transaction as the state change they announce, then delivered in order
 * per channel, at least once. A failed delivery blocks only its own channel
 * and is retried with back-off by the object's alarm, so `vf.hold` always
 * reaches the service processor before the `vf.lift` that follows it.
 */
import { log } from "../../shared/log";
import { deliver, type OutboxMessage } from "./peers";

const maxBackoffMs = 60_000;
const inlineGraceMs = 5_000;

interface OutboxRow extends Record<string, SqlStorageValue> {
	seq: number;
	channel: string;
	payload: string;
	attempts: number;
	next_attempt_ms: number;
}

/** The outbox of one PciDevice. */
export class Outbox {
	/** One delivery pass at a time per channel keeps each channel in order. */
	readonly #passes = new Map<string, Promise<void>>();

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

	/**
	 * When the alarm should next deliver, if any message is waiting. A fresh
	 * message is delivered inline by the request that wrote it, so the alarm
	 * only backs it up `inlineGraceMs` later (e.g. after an eviction).
	 */
	nextAttemptMs(): number | undefined {
		const [row] = this.sql
			.exec<{ due: number | null }>(
				"SELECT MIN(CASE WHEN attempts = 0 THEN next_attempt_ms + ? ELSE next_attempt_ms END) AS due FROM outbox",
				inlineGraceMs,
			)
			.toArray();
		return row?.due ?? undefined;
	}

	/** Delivers every due message of every channel (channels in parallel). */
	async flush(): Promise<void> {
		const channels = this.sql
			.exec<{ channel: string }>("SELECT DISTINCT channel FROM outbox")
			.toArray()
			.map((row) => row.channel);
		await Promise.all(channels.map((channel) => this.flushChannel(channel)));
	}

	/**
	 * Delivers the due messages of one channel in order, after any pass already
	 * running on it (so a message added during that pass is delivered too).
	 */
	flushChannel(channel: string): Promise<void> {
		const previous = this.#passes.get(channel) ?? Promise.resolve();
		const pass = previous.then(() => this.#deliverChannel(channel));
		this.#passes.set(channel, pass);
		return pass.finally(() => {
			if (this.#passes.get(channel) === pass) this.#passes.delete(channel);
		});
	}

	async #deliverChannel(channel: string): Promise<void> {
		for (;;) {
			const [row] = this.sql
				.exec<OutboxRow>("SELECT * FROM outbox WHERE channel = ? ORDER BY seq LIMIT 1", channel)
				.toArray();
			if (!row || row.next_attempt_ms > Date.now()) return;
			try {
				await deliver(this.env, JSON.parse(row.payload) as OutboxMessage);
				this.sql.exec("DELETE FROM outbox WHERE seq = ?", row.seq);
			} catch (error) {
				const attempts = row.attempts + 1;
				const backoffMs = Math.min(maxBackoffMs, 250 * 2 ** Math.min(attempts, 8));
				this.sql.exec(
					"UPDATE outbox SET attempts = ?, next_attempt_ms = ? WHERE seq = ?",
					attempts,
					Date.now() + backoffMs,
					row.seq,
				);
				log("warn", "outbox delivery failed; retrying later", {
					channel,
					attempts,
					error: error instanceof Error ? error.message : String(error),
				});
				return;
			}
		}
	}
}
