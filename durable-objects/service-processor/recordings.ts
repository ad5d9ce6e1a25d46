import {
	asciicastContentType,
	castHeader,
	castOutputEvent,
	castResizeEvent,
	recordingKey,
	splitText,
	utf8ByteLength,
} from "../../shared/asciicast";
import type { TerminalSize } from "../../shared/console-protocol";
import { ownerOfId } from "../../shared/owned-id";
import type { AuditTrail } from "./audit";
import type { RecordingSummary } from "./session-record";

/**
 * Console recordings in asciicast v2. While a session is live, each VM→user
 * frame becomes one event row in SQLite (never an R2 call per frame). Rows
 * are written in batches at most `recordingFlushMs` later (and before any
 * read): a write per frame would make the next frame wait for a storage
 * commit (output gate), like the relay's byte counters (sessions.ts). An
 * eviction can lose at most that last second of a recording, never a
 * relayed frame. When the session closes the recording is finished, written
 * to R2 as one object, and its rows are deleted only after the put
 * succeeded; a failed put is retried by the object's alarm.
 *
 * Only the VM's output is recorded, never the user's input: what a user types
 * may be a password, and a recording is readable by every admin. The user's
 * terminal size is recorded (in the header when recording begins, as an "r"
 * event per later change), so the output plays back laid out as it was shown.
 */

/** Size cap of one recording; past it recording stops and it is marked truncated. */
export const maxRecordingBytes = 8 * 1024 * 1024;

/** How long after a failed put the alarm tries again. */
export const recordingRetryMs = 10_000;

/** How long recorded events may wait in memory before they are written. */
const recordingFlushMs = 1_000;

/** Buffered event bytes that force an early write, bounding the object's memory. */
const maxBufferedBytes = 256 * 1024;

type BufferedEvent = { sessionId: string; line: string; lineBytes: number };

type RecordingRow = {
	session_id: string;
	start_ms: number;
	header: string;
	bytes: number;
	events: number;
	truncated: number;
	finished: number;
	stored: number;
};

/** What a live recording keeps in memory between frames (rebuilt from its row after eviction). */
type LiveRecording = { startMs: number; bytes: number; truncated: boolean; decoder: TextDecoder };

/** A recording as read for the admin route: the text while in SQLite, or a pointer to R2. */
export type RecordingRead = { stored: true; cast: null } | { stored: false; cast: string };

function summaryOf(row: RecordingRow): RecordingSummary {
	return {
		bytes: row.bytes,
		events: row.events,
		truncated: row.truncated === 1,
		stored: row.stored === 1,
	};
}

/** Records VM output per session and hands finished recordings to R2. */
export class Recorder {
	private readonly live = new Map<string, LiveRecording>();
	private buffered: BufferedEvent[] = [];
	private bufferedBytes = 0;
	private flushTimer: ReturnType<typeof setTimeout> | undefined;
	/** Puts in flight, so concurrent closers await the same one instead of writing twice. */
	private readonly storing = new Map<string, Promise<void>>();
	/** Finished since the last store attempt of this instance (saves a query per frame). */
	private finishedSinceStore = false;

	constructor(
		private readonly storage: DurableObjectStorage,
		private readonly audit: AuditTrail,
	) {}

	private get sql(): SqlStorage {
		return this.storage.sql;
	}

	private row(sessionId: string): RecordingRow | undefined {
		return this.sql
			.exec<RecordingRow>("SELECT * FROM recordings WHERE session_id = ?", sessionId)
			.toArray()[0];
	}

	/**
	 * Starts a session's recording when its VM side attaches, at the user's
	 * terminal size if it was told (else the default); its time starts now.
	 */
	begin(sessionId: string, vmId: string, size?: TerminalSize): void {
		const startMs = Date.now();
		const header = castHeader({ startMs, vmId, hostId: ownerOfId(sessionId) ?? "", size });
		this.sql.exec(
			"INSERT OR IGNORE INTO recordings (session_id, start_ms, header, bytes) VALUES (?, ?, ?, ?)",
			sessionId,
			startMs,
			header,
			utf8ByteLength(header) + 1,
		);
	}

	private liveRecording(sessionId: string): LiveRecording | undefined {
		const cached = this.live.get(sessionId);
		if (cached) return cached;
		const row = this.row(sessionId);
		if (!row || row.finished === 1) return undefined;
		const live = {
			startMs: row.start_ms,
			bytes: row.bytes,
			truncated: row.truncated === 1,
			// Streaming, so a UTF-8 character split across two binary frames stays whole.
			decoder: new TextDecoder("utf-8"),
		};
		this.live.set(sessionId, live);
		return live;
	}

	/** Records one frame the VM sent to the user (binary decoded as UTF-8 with replacement). */
	recordOutput(sessionId: string, message: string | ArrayBuffer): void {
		const live = this.liveRecording(sessionId);
		if (!live || live.truncated) return;
		const text =
			typeof message === "string" ? message : live.decoder.decode(message, { stream: true });
		this.appendOutput(sessionId, live, text);
	}

	/** Records that the user's terminal took a new size (no-op before the recording began). */
	recordResize(sessionId: string, size: TerminalSize): void {
		const live = this.liveRecording(sessionId);
		if (!live || live.truncated) return;
		this.append(sessionId, live, [castResizeEvent(Date.now() - live.startMs, size)]);
	}

	private appendOutput(sessionId: string, live: LiveRecording, text: string): void {
		if (text === "") return;
		const elapsedMs = Date.now() - live.startMs;
		this.append(
			sessionId,
			live,
			splitText(text).map((piece) => castOutputEvent(elapsedMs, piece)),
		);
	}

	/** Buffers event lines until the cap, past which the recording is marked truncated. */
	private append(sessionId: string, live: LiveRecording, lines: string[]): void {
		for (const line of lines) {
			const lineBytes = utf8ByteLength(line) + 1;
			if (live.bytes + lineBytes > maxRecordingBytes) {
				live.truncated = true;
				this.sql.exec("UPDATE recordings SET truncated = 1 WHERE session_id = ?", sessionId);
				this.audit.record("recording.truncated", { sessionId, detail: { bytes: live.bytes } });
				return;
			}
			live.bytes += lineBytes;
			this.buffered.push({ sessionId, line, lineBytes });
			this.bufferedBytes += lineBytes;
		}
		if (this.bufferedBytes >= maxBufferedBytes) this.flush();
		else this.flushTimer ??= setTimeout(() => this.flush(), recordingFlushMs);
	}

	/** Writes the buffered events; every read of recordings calls this first. */
	flush(): void {
		clearTimeout(this.flushTimer);
		this.flushTimer = undefined;
		if (this.buffered.length === 0) return;
		const events = this.buffered;
		this.buffered = [];
		this.bufferedBytes = 0;
		const totals = new Map<string, { bytes: number; events: number }>();
		this.storage.transactionSync(() => {
			for (const { sessionId, line, lineBytes } of events) {
				this.sql.exec(
					"INSERT INTO recording_events (session_id, line) VALUES (?, ?)",
					sessionId,
					line,
				);
				const total = totals.get(sessionId) ?? { bytes: 0, events: 0 };
				total.bytes += lineBytes;
				total.events += 1;
				totals.set(sessionId, total);
			}
			for (const [sessionId, { bytes, events: count }] of totals) {
				this.sql.exec(
					"UPDATE recordings SET bytes = bytes + ?, events = events + ? WHERE session_id = ?",
					bytes,
					count,
					sessionId,
				);
			}
		});
	}

	/** Ends a session's recording (it then waits to be stored); no-op without one. */
	finish(sessionId: string): void {
		const live = this.liveRecording(sessionId);
		// Bytes of a character the VM never completed become one replacement character.
		if (live && !live.truncated) this.appendOutput(sessionId, live, live.decoder.decode());
		this.flush();
		this.live.delete(sessionId);
		const finished = this.sql.exec(
			"UPDATE recordings SET finished = 1 WHERE session_id = ? AND finished = 0",
			sessionId,
		).rowsWritten;
		if (finished > 0) this.finishedSinceStore = true;
	}

	/** The recording summary of a session, or null when it has none. */
	summary(sessionId: string): RecordingSummary | null {
		this.flush();
		const row = this.row(sessionId);
		return row ? summaryOf(row) : null;
	}

	/** The recording as asciicast text while it is in SQLite; null when there is none. */
	read(sessionId: string): RecordingRead | null {
		this.flush();
		const row = this.row(sessionId);
		if (!row) return null;
		if (row.stored === 1) return { stored: true, cast: null };
		return { stored: false, cast: this.castText(row) };
	}

	private castText(row: RecordingRow): string {
		const lines = this.sql
			.exec<{ line: string }>(
				"SELECT line FROM recording_events WHERE session_id = ? ORDER BY seq",
				row.session_id,
			)
			.toArray()
			.map((event) => event.line);
		return `${[row.header, ...lines].join("\n")}\n`;
	}

	/** True when a session closed since the last store attempt (memory only, no query). */
	hasNewlyFinished(): boolean {
		return this.finishedSinceStore;
	}

	/** True when some finished recording is not in R2 yet. */
	hasUnstored(): boolean {
		return (
			this.sql.exec("SELECT 1 FROM recordings WHERE finished = 1 AND stored = 0 LIMIT 1").toArray()
				.length > 0
		);
	}

	/** Writes every finished recording to `bucket`; returns how many puts failed. */
	async storeFinished(bucket: R2Bucket): Promise<number> {
		this.finishedSinceStore = false;
		const finished = this.sql
			.exec<{ session_id: string }>(
				"SELECT session_id FROM recordings WHERE finished = 1 AND stored = 0",
			)
			.toArray();
		const results = await Promise.allSettled(
			finished.map(({ session_id }) => this.store(bucket, session_id)),
		);
		return results.filter((result) => result.status === "rejected").length;
	}

	private store(bucket: R2Bucket, sessionId: string): Promise<void> {
		const running = this.storing.get(sessionId);
		if (running) return running;
		const attempt = this.put(bucket, sessionId).finally(() => this.storing.delete(sessionId));
		this.storing.set(sessionId, attempt);
		return attempt;
	}

	private async put(bucket: R2Bucket, sessionId: string): Promise<void> {
		// Read synchronously: a finished recording gets no new events, so this is the whole cast.
		const row = this.row(sessionId);
		if (!row || row.stored === 1) return;
		const cast = this.castText(row);
		await bucket.put(recordingKey(sessionId), cast, {
			httpMetadata: { contentType: asciicastContentType },
			customMetadata: { truncated: String(row.truncated === 1) },
		});
		this.storage.transactionSync(() => {
			this.sql.exec("UPDATE recordings SET stored = 1 WHERE session_id = ?", sessionId);
			this.sql.exec("DELETE FROM recording_events WHERE session_id = ?", sessionId);
		});
		this.audit.record("recording.stored", {
			sessionId,
			detail: { bytes: row.bytes, events: row.events, truncated: row.truncated === 1 },
		});
	}
}
