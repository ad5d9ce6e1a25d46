import type { ConsoleNotice, TerminalSize } from "../../shared/console-protocol";
import type { AuditTrail } from "./audit";
import { NoticeSockets } from "./notice-sockets";
import { sideTag } from "./session-record";

/**
 * Read-only viewers of a live console session: any number of extra sockets
 * that receive every VM→user frame from the moment they join. What a viewer
 * sends is dropped (the user channel is the one writer). Viewer sockets are
 * accepted through the hibernation API with a tag and an attachment, like the
 * relay's, so they survive an eviction of the object. A viewer that speaks
 * the console subprotocol is also told the console's size, so it can lay the
 * output out as the user sees it.
 */
export class Viewers {
	private readonly sockets = new NoticeSockets();

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly audit: AuditTrail,
	) {}

	/** Accepts a viewer socket whose single-use token was just spent; `size` is the console's, if known. */
	attach(
		sessionId: string,
		socket: WebSocket,
		{ notices = false, size }: { notices?: boolean; size?: TerminalSize } = {},
	): void {
		this.ctx.acceptWebSocket(socket, [sideTag("viewer", sessionId)]);
		socket.serializeAttachment({ role: "viewer", sessionId, ...(notices ? { notices } : {}) });
		this.sockets.remember(socket, notices);
		if (size) this.sockets.sendNotice(socket, { type: "resize", ...size });
		this.audit.record("viewer.attached", {
			sessionId,
			detail: { viewers: this.count(sessionId) },
		});
	}

	/** Sends one VM frame to every viewer, as each speaks (see NoticeSockets). */
	broadcast(sessionId: string, message: string | ArrayBuffer): void {
		for (const socket of this.ctx.getWebSockets(sideTag("viewer", sessionId))) {
			try {
				this.sockets.sendConsole(socket, message);
			} catch {
				// A viewer mid-close misses the frame; the session goes on.
			}
		}
	}

	/** Tells every viewer that speaks the console subprotocol something about the session. */
	notify(sessionId: string, notice: ConsoleNotice): void {
		for (const socket of this.ctx.getWebSockets(sideTag("viewer", sessionId))) {
			this.sockets.sendNotice(socket, notice);
		}
	}

	/** Viewers attached now (a socket mid-close is still listed, so open ones are counted). */
	count(sessionId: string): number {
		return this.ctx
			.getWebSockets(sideTag("viewer", sessionId))
			.filter((socket) => socket.readyState === WebSocket.OPEN).length;
	}

	/** A viewer left on its own (the session goes on). */
	left(sessionId: string): void {
		this.audit.record("viewer.detached", { sessionId, detail: { reason: "viewer_left" } });
	}

	/** Closes every viewer with the session's close reason. */
	closeAll(sessionId: string, reason: string): void {
		for (const socket of this.ctx.getWebSockets(sideTag("viewer", sessionId))) {
			try {
				socket.close(1000, reason);
			} catch {
				// Already closing.
			}
			this.audit.record("viewer.detached", { sessionId, detail: { reason } });
		}
	}
}
