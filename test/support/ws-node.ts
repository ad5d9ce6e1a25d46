import WebSocket from "ws";
import { type Frame, Inbox, withTimeout } from "./inbox";

/**
 * Real `ws` clients for the end-to-end tests (Node against `wrangler dev`),
 * with an inbox and bounded waits, mirroring sockets.ts inside workerd.
 */

/** A connected `ws` client with an inbox. */
export class NodeSocket {
	private readonly inbox = new Inbox();
	/** Resolves with the close code and reason. */
	readonly closed: Promise<{ code: number; reason: string }>;

	constructor(readonly socket: WebSocket) {
		this.closed = new Promise((resolve) => {
			socket.on("close", (code, reason) => {
				resolve({ code, reason: reason.toString() });
				this.inbox.wake();
			});
		});
		socket.on("message", (data, isBinary) => {
			const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
			this.inbox.push(isBinary ? new Uint8Array(bytes) : bytes.toString("utf8"));
		});
	}

	/** The next frame, waiting up to `timeoutMs`. */
	next(timeoutMs = 10_000): Promise<Frame> {
		return this.inbox.next(timeoutMs);
	}

	/** The next frame parsed as JSON. */
	nextJson<T = Record<string, unknown>>(timeoutMs = 10_000): Promise<T> {
		return this.inbox.nextJson<T>(timeoutMs);
	}

	send(frame: string | Uint8Array): void {
		this.socket.send(frame, { binary: typeof frame !== "string" });
	}

	close(code = 1000, reason = "done"): void {
		this.socket.close(code, reason);
	}

	/** Waits (bounded) for the close. */
	waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
		return withTimeout(this.closed, timeoutMs, "socket did not close");
	}
}

/** Connects with `ws`; rejects with the HTTP status when the upgrade is refused. */
export function connectNode(
	url: string,
	headers: Record<string, string> = {},
): Promise<NodeSocket> {
	return new Promise((resolve, reject) => {
		const socket = new WebSocket(url, { headers });
		const wrapped = new NodeSocket(socket);
		socket.once("open", () => resolve(wrapped));
		socket.once("unexpected-response", (_request, response) => {
			reject(
				Object.assign(new Error(`upgrade refused: ${response.statusCode}`), {
					status: response.statusCode,
				}),
			);
			socket.terminate();
		});
		socket.once("error", reject);
	});
}

/** The HTTP status a refused upgrade answered with. */
export async function refusedStatus(
	url: string,
	headers: Record<string, string> = {},
): Promise<number> {
	try {
		const socket = await connectNode(url, headers);
		socket.close();
		return 101;
	} catch (error) {
		return (error as { status?: number }).status ?? 0;
	}
}
