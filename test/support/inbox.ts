/**
 * A queue of received frames with bounded waits, shared by the workerd and
 * the Node WebSocket test clients: a lost frame fails the test instead of
 * hanging it.
 */

/** A frame as received: text, or binary as bytes. */
export type Frame = string | Uint8Array;

/** Frames in arrival order, and waiters for the next one. */
export class Inbox {
	private readonly frames: Frame[] = [];
	private readonly waiters: Array<() => void> = [];

	/** Adds a received frame. */
	push(frame: Frame): void {
		this.frames.push(frame);
		this.wake();
	}

	/** Wakes waiters without a frame (the socket closed). */
	wake(): void {
		for (const waiter of this.waiters.splice(0)) waiter();
	}

	/** Frames received and not yet read. */
	pending(): number {
		return this.frames.length;
	}

	/** The next frame, waiting up to `timeoutMs`. */
	async next(timeoutMs: number): Promise<Frame> {
		const deadline = Date.now() + timeoutMs;
		while (this.frames.length === 0) {
			const remaining = deadline - Date.now();
			if (remaining <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, remaining);
				this.waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
		return this.frames.shift() as Frame;
	}

	/** The next frame parsed as JSON. */
	async nextJson<T>(timeoutMs: number): Promise<T> {
		const frame = await this.next(timeoutMs);
		if (typeof frame !== "string") throw new Error("expected a text frame");
		return JSON.parse(frame) as T;
	}
}

/** Rejects when `promise` does not settle within `timeoutMs`. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	return Promise.race([
		promise,
		new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Error(`${what} within ${timeoutMs} ms`)), timeoutMs);
		}),
	]).finally(() => clearTimeout(timer));
}
