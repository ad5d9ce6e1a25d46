/**
 * The service processor's one alarm, set to the earliest of its deadlines
 * (session timeouts, recording and directory retries). The instance remembers
 * the alarm it last set, so a new session's deadline costs a storage write
 * only when it is the earliest, and never a scan of every session.
 */
export class AlarmSchedule {
	/** The alarm this instance last set (null: none), undefined until it knows. */
	private alarmAtMs: number | null | undefined;

	constructor(
		private readonly storage: DurableObjectStorage,
		/** Every pending deadline (undefined where a source has none). */
		private readonly deadlines: () => Array<number | undefined>,
	) {}

	/** The alarm that woke the object is spent: the next schedule recomputes. */
	spent(): void {
		this.alarmAtMs = undefined;
	}

	/**
	 * Sets the alarm to the earliest deadline. `newDeadlineMs` is the only
	 * deadline added since the alarm was last set (a new session's): when the
	 * alarm is already earlier, nothing needs scanning or writing.
	 */
	async schedule(newDeadlineMs?: number): Promise<void> {
		if (newDeadlineMs !== undefined && this.alarmAtMs !== undefined) {
			if (this.alarmAtMs !== null && this.alarmAtMs <= newDeadlineMs) return;
			await this.storage.setAlarm(newDeadlineMs);
			this.alarmAtMs = newDeadlineMs;
			return;
		}
		const defined = this.deadlines().filter((deadline) => deadline !== undefined);
		const nextMs = defined.length === 0 ? null : Math.min(...defined);
		if (nextMs === this.alarmAtMs) return;
		if (nextMs === null) await this.storage.deleteAlarm();
		else await this.storage.setAlarm(nextMs);
		this.alarmAtMs = nextMs;
	}
}
