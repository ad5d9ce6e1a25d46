import WebSocket from "ws";

/**
 * Real `ws` clients for the end-to-end tests (Node against `wrangler dev`),
 * with an inbox and bounded waits, mirroring sockets.ts inside workerd.
 */

/** A received frame: text, or binary as bytes. */
export type NodeFrame = string | Uint8Array;

/** A connected `ws` client with an inbox. */
export class NodeSocket {
	private readonly inbox: NodeFrame[] = [];
	private readonly waiters: Array<() => void> = [];
	/** Resolves with the close code and reason. */
	readonly closed: Promise<{ code: number; reason: string }>;

	constructor(readonly socket: WebSocket) {
		this.closed = new Promise((resolve) => {
			socket.on("close", (code, reason) => {
				resolve({ code, reason: reason.toString() });
				this.wake();
			});
		});
		socket.on("message", (data, isBinary) => {
			const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
			this.inbox.push(isBinary ? new Uint8Array(bytes) : bytes.toString("utf8"));
			this.wake();
		});
	}

	private wake(): void {
		for (const waiter of this.waiters.splice(0)) waiter();
	}

	/** The next frame, waiting up to `timeoutMs`. */
	async next(timeoutMs = 10_000): Promise<NodeFrame> {
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
		return this.inbox.shift() as NodeFrame;
	}

	/** The next frame parsed as JSON. */
	async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
		const frame = await this.next(timeoutMs);
		if (typeof frame !== "string") throw new Error("expected a text frame");
		return JSON.parse(frame) as T;
	}

	send(frame: string | Uint8Array): void {
		this.socket.send(frame, { binary: typeof frame !== "string" });
	}

	close(code = 1000, reason = "done"): void {
		this.socket.close(code, reason);
	}

	/** Waits (bounded) for the close. */
	waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
		return Promise.race([
			this.closed,
			new Promise<never>((_, reject) =>
				setTimeout(
					() => reject(new Error(`socket did not close within ${timeoutMs} ms`)),
					timeoutMs,
				),
			),
		]);
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
