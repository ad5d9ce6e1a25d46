import { exports } from "cloudflare:workers";
import { type Frame, Inbox, withTimeout } from "./inbox";

export { withTimeout } from "./inbox";

/**
 * Real WebSockets against the Worker inside workerd: an upgrade request
 * through the Worker's fetch handler, the client end accepted locally.
 */

/** A connected client socket with an inbox. */
export class TestSocket {
	private readonly inbox = new Inbox();
	/** Resolves with the close code and reason once the server closes (or we do). */
	readonly closed: Promise<{ code: number; reason: string }>;

	constructor(readonly socket: WebSocket) {
		// Client ends default to Blob, which would need an async read and break ordering.
		(socket as WebSocket & { binaryType: string }).binaryType = "arraybuffer";
		this.closed = new Promise((resolve) => {
			socket.addEventListener("close", (event) => {
				resolve({ code: event.code, reason: event.reason });
				this.inbox.wake();
			});
		});
		socket.addEventListener("message", (event) => {
			const data = event.data;
			this.inbox.push(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
		});
		socket.accept();
	}

	/** The next frame, waiting up to `timeoutMs`. */
	next(timeoutMs = 5_000): Promise<Frame> {
		return this.inbox.next(timeoutMs);
	}

	/** The next frame parsed as JSON. */
	nextJson<T = Record<string, unknown>>(timeoutMs = 5_000): Promise<T> {
		return this.inbox.nextJson<T>(timeoutMs);
	}

	/** Frames received and not yet read. */
	pending(): number {
		return this.inbox.pending();
	}

	send(frame: string | ArrayBuffer | Uint8Array): void {
		this.socket.send(frame);
	}

	close(code = 1000, reason = "done"): void {
		this.socket.close(code, reason);
	}

	/** Waits (bounded) for the close. */
	waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
		return withTimeout(this.closed, timeoutMs, "socket did not close");
	}
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
