import { log } from "../../shared/log";
import { AlarmSchedule } from "./alarm-schedule";
import type { DirectorySync } from "./directory";
import { type Recorder, recordingRetryMs } from "./recordings";
import type { SessionStore } from "./sessions";

/**
 * Work that outlives the request that caused it: closing timed-out sessions,
 * writing finished recordings to R2 and bringing the Fleet directory and
 * domain membership in step. What fails is kept and retried by the alarm.
 */
export class Upkeep {
	/** The alarm, at the earliest session deadline or retry. */
	readonly alarm: AlarmSchedule;

	constructor(
		private readonly parts: {
			storage: DurableObjectStorage;
			/** Read at each put, so the object's current `env` binding is used. */
			recordings: () => R2Bucket;
			sessions: SessionStore;
			recorder: Recorder;
			directory: DirectorySync;
		},
	) {
		this.alarm = new AlarmSchedule(parts.storage, () => this.deadlines());
	}

	private deadlines(): Array<number | undefined> {
		const { sessions, directory, recorder } = this.parts;
		const deadlines = [sessions.nextDeadlineMs(), directory.nextAttemptMs()];
		if (recorder.hasUnstored()) deadlines.push(Date.now() + recordingRetryMs);
		return deadlines;
	}

	/** The alarm's work: timeouts, recording puts and directory retries, then the next alarm. */
	async onAlarm(schemaReady: boolean): Promise<void> {
		// The alarm that woke us is spent.
		this.alarm.spent();
		if (!schemaReady) return;
		this.parts.sessions.closeExpired(Date.now());
		this.parts.sessions.closeOrphaned();
		await this.storeRecordings({ retry: true });
		await this.syncDirectory();
		await this.alarm.schedule();
	}

	/**
	 * Writes recordings of sessions that closed to R2. Called after anything
	 * that may close a session; with `retry` (the alarm) also those whose put
	 * failed before. A failure leaves the rows in SQLite for the alarm.
	 */
	async storeRecordings({ retry = false }: { retry?: boolean } = {}): Promise<void> {
		const { recorder, recordings } = this.parts;
		if (!retry && !recorder.hasNewlyFinished()) return;
		const failed = await recorder.storeFinished(recordings());
		if (failed === 0) return;
		log("warn", "recording put failed; the alarm will retry", { failed });
		await this.alarm.schedule();
	}

	/** Runs the queued directory tasks; a failure leaves them for the alarm. */
	async syncDirectory(): Promise<void> {
		await this.parts.directory.run();
		// The host row is written; the alarm retries until the directory agrees.
		if (this.parts.directory.nextAttemptMs() !== undefined) await this.alarm.schedule();
	}
}
