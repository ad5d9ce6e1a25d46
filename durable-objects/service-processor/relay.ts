import type { AuditTrail } from "./audit";
import { type SessionStore, type Side, sideTag } from "./sessions";

/**
 * The console relay: both sockets of a session live on this object (accepted
 * through the hibernation API, so they outlive an eviction); every text and
 * binary frame goes to the other side verbatim and in order. Frames sent
 * before the other side attaches wait in SQLite, bounded, and are flushed on
 * attach. All handlers are synchronous, which is what keeps the order.
 */

/** What a relay socket carries across hibernation. */
export interface RelayAttachment {
	role: Side;
	sessionId: string;
}

/** Frames a side may send before the other side attaches. */
export const maxPendingFrames = 1024;

const encoder = new TextEncoder();

function peerOf(side: Side): Side {
	return side === "user" ? "vm" : "user";
}

/** Relays frames between the two sides of each session. */
export class Relay {
	constructor(
		private readonly ctx: DurableObjectState,
		private readonly sessions: SessionStore,
		private readonly audit: AuditTrail,
	) {}

	private get sql(): SqlStorage {
		return this.ctx.storage.sql;
	}

	/** Accepts one side's socket, delivers what the other side sent meanwhile, and updates the state. */
	attach(sessionId: string, side: Side, socket: WebSocket): void {
		this.ctx.acceptWebSocket(socket, [sideTag(side, sessionId)]);
		socket.serializeAttachment({ role: side, sessionId } satisfies RelayAttachment);
		const now = new Date().toISOString();
		const column = side === "user" ? "user_attached_at" : "vm_secured_at";
		this.sql.exec(
			`UPDATE sessions SET ${column} = ?, last_activity_ms = ? WHERE session_id = ?`,
			now,
			Date.now(),
			sessionId,
		);
		const session = this.sessions.get(sessionId);
		this.audit.record(side === "user" ? "channel.user_attached" : "channel.vm_attached", {
			sessionId,
			vmId: session?.vmId,
		});
		const pending = this.sql
			.exec<{ seq: number; text: string | null; data: ArrayBuffer | null }>(
				"SELECT seq, text, data FROM pending_frames WHERE session_id = ? AND to_side = ? ORDER BY seq",
				sessionId,
				side,
			)
			.toArray();
		for (const frame of pending) socket.send(frame.text ?? frame.data ?? "");
		this.sql.exec(
			"DELETE FROM pending_frames WHERE session_id = ? AND to_side = ?",
			sessionId,
			side,
		);
		const peerAttached = this.ctx.getWebSockets(sideTag(peerOf(side), sessionId)).length > 0;
		if (peerAttached) {
			this.sql.exec(
				"UPDATE sessions SET state = 'established' WHERE session_id = ? AND state = 'vm_pending'",
				sessionId,
			);
			this.audit.record("session.established", { sessionId, vmId: session?.vmId });
		}
	}

	/** Relays one frame from `socket` to the other side, counting its bytes. */
	relay(socket: WebSocket, attachment: RelayAttachment, message: string | ArrayBuffer): void {
		const { role, sessionId } = attachment;
		const byteLength =
			typeof message === "string" ? encoder.encode(message).byteLength : message.byteLength;
		if (!this.sessions.isOpen(sessionId)) {
			socket.close(1000, "closed");
			return;
		}
		this.sessions.countFrame(sessionId, role, byteLength);
		const [peer] = this.ctx.getWebSockets(sideTag(peerOf(role), sessionId));
		if (peer) {
			peer.send(message);
			return;
		}
		this.hold(sessionId, peerOf(role), message);
	}

	private hold(sessionId: string, toSide: Side, message: string | ArrayBuffer): void {
		const [row] = this.sql
			.exec<{ count: number }>(
				"SELECT COUNT(*) AS count FROM pending_frames WHERE session_id = ?",
				sessionId,
			)
			.toArray();
		if ((row?.count ?? 0) >= maxPendingFrames) {
			this.sessions.close(sessionId, "buffer_overflow");
			return;
		}
		this.sql.exec(
			"INSERT INTO pending_frames (session_id, to_side, text, data) VALUES (?, ?, ?, ?)",
			sessionId,
			toSide,
			typeof message === "string" ? message : null,
			typeof message === "string" ? null : message,
		);
	}

	/** A side hung up: the session ends, and the other side is closed with the reason. */
	detach(attachment: RelayAttachment): void {
		this.sessions.close(attachment.sessionId, `${attachment.role}_disconnected`);
	}
}
