/**
 * The outbox every Durable Object sends its commands through. A message is
 * written in the same transaction as the state change it announces (so it
 * exists exactly when the change does), then delivered at least once, in
 * order per lane: one delivery pass at a time per lane, and a failed message
 * blocks only its own lane, which waits out the back-off (../shared/backoff.ts)
 * before it is tried again. Receivers must therefore be idempotent.
 *
 * The request that queues a message delivers it at once (`flush`); the
 * object's alarm is the backstop. An object has one alarm, so the outbox only
 * says when it next needs one (`nextAttemptMs`) and the object sets its alarm
 * to the earliest of that and its other deadlines, then calls `flush` from
 * `alarm()`. Rows live in the object's SQLite, so they outlive an eviction and
 * the next instance delivers them.
 *
 * One Outbox per object: a flush of every lane delivers every row of the table.
 *
 * Not for the host agent's commands (service-processor/agent.ts): the agent
 * is a process behind a socket, not an object to call, so a command counts as
 * delivered only when the agent acks it, and is sent again when the agent
 * reconnects, not on a timer; holding them here would resend what the agent
 * already has while its socket is up.
 */
import { backoffMs } from "../shared/backoff";
import { log } from "../shared/log";

/** The schema step creating an object's outbox table (see ./sql.ts). */
export const outboxTable = `CREATE TABLE outbox (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	lane TEXT NOT NULL, payload TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL
)`;

/**
 * How long after a message was queued the alarm delivers it if the request
 * that queued it did not (it was evicted mid-delivery, or never flushed).
 */
export const inlineGraceMs = 2_000;

interface OutboxRow extends Record<string, SqlStorageValue> {
	seq: number;
	lane: string;
	payload: string;
	attempts: number;
	next_attempt_ms: number;
}

/** What an object's outbox does with its messages. */
export interface OutboxDelivery<Message> {
	/** Sends one message; throws when the peer refuses or cannot be reached. */
	deliver(message: Message): Promise<void>;
	/** The lane a message travels in: each lane is delivered in order, one message at a time. */
	laneOf(message: Message): string;
}

/** An object's outbox of `Message`s (JSON-serialisable). */
export class Outbox<Message> {
	/** The pass running on each lane: a new pass starts after it, keeping the lane in order. */
	readonly #passes = new Map<string, Promise<void>>();

	constructor(
		private readonly sql: SqlStorage,
		private readonly delivery: OutboxDelivery<Message>,
	) {}

	/** Queues a message; call inside the transaction of the change it announces. */
	add(message: Message): void {
		this.sql.exec(
			"INSERT INTO outbox (lane, payload, next_attempt_ms) VALUES (?, ?, ?)",
			this.delivery.laneOf(message),
			JSON.stringify(message),
			Date.now(),
		);
	}

	/**
	 * When the alarm should next deliver, if any message waits: each lane's
	 * first message decides for its lane (the rest follow it in the same pass).
	 */
	nextAttemptMs(): number | undefined {
		const [row] = this.sql
			.exec<{ due: number | null }>(
				`SELECT MIN(CASE WHEN attempts = 0 THEN next_attempt_ms + ? ELSE next_attempt_ms END) AS due
				 FROM outbox WHERE seq IN (SELECT MIN(seq) FROM outbox GROUP BY lane)`,
				inlineGraceMs,
			)
			.toArray();
		return row?.due ?? undefined;
	}

	/**
	 * Delivers the due messages of `lane`, or of every lane (in parallel), in
	 * order, after any pass already running on that lane (so a message queued
	 * during that pass is delivered too). A failed delivery does not reject:
	 * it is logged and retried after its back-off.
	 */
	async flush(lane?: string): Promise<void> {
		if (lane !== undefined) return this.#flushLane(lane);
		const lanes = this.sql
			.exec<{ lane: string }>("SELECT DISTINCT lane FROM outbox")
			.toArray()
			.map((row) => row.lane);
		await Promise.all(lanes.map((each) => this.#flushLane(each)));
	}

	#flushLane(lane: string): Promise<void> {
		const previous = this.#passes.get(lane) ?? Promise.resolve();
		// A pass that threw (storage, not delivery) must not stop the passes queued behind it.
		const pass = previous.catch(() => {}).then(() => this.#deliverLane(lane));
		this.#passes.set(lane, pass);
		return pass.finally(() => {
			if (this.#passes.get(lane) === pass) this.#passes.delete(lane);
		});
	}

	async #deliverLane(lane: string): Promise<void> {
		for (;;) {
			const [row] = this.sql
				.exec<OutboxRow>("SELECT * FROM outbox WHERE lane = ? ORDER BY seq LIMIT 1", lane)
				.toArray();
			if (!row || row.next_attempt_ms > Date.now()) return;
			try {
				await this.delivery.deliver(JSON.parse(row.payload) as Message);
			} catch (error) {
				const attempts = row.attempts + 1;
				const retryInMs = backoffMs(attempts);
				this.sql.exec(
					"UPDATE outbox SET attempts = ?, next_attempt_ms = ? WHERE seq = ?",
					attempts,
					Date.now() + retryInMs,
					row.seq,
				);
				log("warn", "outbox delivery failed; retrying later", {
					lane,
					attempts,
					retryInMs,
					error: error instanceof Error ? error.message : String(error),
				});
				return;
			}
			this.sql.exec("DELETE FROM outbox WHERE seq = ?", row.seq);
		}
	}
}
