import type { ConsoleNotice } from "../../shared/console-protocol";

const encoder = new TextEncoder();

/**
 * Sends to console sockets in the form each one speaks. A socket that speaks
 * the console subprotocol (its attachment says `notices`) gets the console
 * as binary only, because its text frames are Edgevisor's notices; any
 * other gets frames as the VM sent them, and no notices.
 */
export class NoticeSockets {
	/** Read from each socket's attachment once per socket, not once per frame. */
	private readonly speaking = new WeakMap<WebSocket, boolean>();

	/** Records what a socket just accepted speaks (saves reading its attachment back). */
	remember(socket: WebSocket, notices: boolean): void {
		this.speaking.set(socket, notices);
	}

	private speaksNotices(socket: WebSocket): boolean {
		let notices = this.speaking.get(socket);
		if (notices === undefined) {
			notices = (socket.deserializeAttachment() as { notices?: boolean } | null)?.notices === true;
			this.speaking.set(socket, notices);
		}
		return notices;
	}

	/** Sends a console frame (throws like `send` on a closed socket). */
	sendConsole(socket: WebSocket, message: string | ArrayBuffer): void {
		socket.send(
			typeof message === "string" && this.speaksNotices(socket) ? encoder.encode(message) : message,
		);
	}

	/** Tells a socket something about its session, apart from the console stream, if it speaks notices. */
	sendNotice(socket: WebSocket, notice: ConsoleNotice): void {
		if (!this.speaksNotices(socket)) return;
		try {
			socket.send(JSON.stringify(notice));
		} catch {
			// Closing: the notice has nobody to tell.
		}
	}
}
