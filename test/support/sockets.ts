import { exports } from "cloudflare:workers";

/**
 * Real WebSockets against the Worker inside workerd: an upgrade request
 * through the Worker's fetch handler, the client end accepted locally.
 * Every wait has a timeout so a lost frame fails the test instead of hanging it.
 */

/** A frame as received: text, or binary as bytes. */
export type Frame = string | Uint8Array;

/** A connected client socket with an inbox. */
export class TestSocket {
	private readonly inbox: Frame[] = [];
	private readonly waiters: Array<() => void> = [];
	/** Resolves with the close code and reason once the server closes (or we do). */
	readonly closed: Promise<{ code: number; reason: string }>;

	constructor(readonly socket: WebSocket) {
		// Client ends default to Blob, which would need an async read and break ordering.
		(socket as WebSocket & { binaryType: string }).binaryType = "arraybuffer";
		this.closed = new Promise((resolve) => {
			socket.addEventListener("close", (event) => {
				resolve({ code: event.code, reason: event.reason });
				this.wake();
			});
		});
		socket.addEventListener("message", (event) => {
			const data = event.data;
			this.inbox.push(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
			this.wake();
		});
		socket.accept();
	}

	private wake(): void {
		for (const waiter of this.waiters.splice(0)) waiter();
	}

	/** The next frame, waiting up to `timeoutMs`. */
	async next(timeoutMs = 5_000): Promise<Frame> {
		const deadline = Date.now() + timeoutMs;
		while (this.inbox.length === 0) {
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
		return this.inbox.shift() as Frame;
	}

	/** The next frame parsed as JSON. */
	async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
		const frame = await this.next(timeoutMs);
		if (typeof frame !== "string") throw new Error("expected a text frame");
		return JSON.parse(frame) as T;
	}

	/** Frames received and not yet read. */
	pending(): number {
		return this.inbox.length;
	}

	send(frame: string | ArrayBuffer | Uint8Array): void {
		this.socket.send(frame);
	}

	close(code = 1000, reason = "done"): void {
		this.socket.close(code, reason);
	}

	/** Waits (bounded) for the close. */
	async waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
		return withTimeout(this.closed, timeoutMs, "socket did not close");
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

/** Sends a WebSocket upgrade for `url` (ws:/wss:/http:/https:) through the Worker. */
export function upgrade(url: string, headers: Record<string, string> = {}): Promise<Response> {
	const httpUrl = url.replace(/^ws(s?):/, "http$1:");
	return exports.default.fetch(
		new Request(httpUrl, { headers: { Upgrade: "websocket", ...headers } }),
	);
}

/** Connects to `url`; throws with the response status when the upgrade is refused. */
export async function connect(
	url: string,
	headers: Record<string, string> = {},
): Promise<TestSocket> {
	const response = await upgrade(url, headers);
	if (response.status !== 101 || !response.webSocket) {
		throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
	}
	return new TestSocket(response.webSocket);
}
