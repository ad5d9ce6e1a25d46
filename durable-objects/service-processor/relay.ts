import type { AuditTrail } from "./audit";
import type { Recorder } from "./recordings";
import { type ChannelSide, type Side, sideTag } from "./session-record";
import type { SessionStore } from "./sessions";
import type { Viewers } from "./viewers";

/**
 * The console relay: both sockets of a session live on this object (accepted
 * through the hibernation API, so they outlive an eviction); every text and
 * binary frame goes to the other side verbatim and in order. Frames sent
 * before the other side attaches wait in SQLite, bounded, and are flushed on
 * attach. All handlers are synchronous, which is what keeps the order.
 * VM output also goes to the session's read-only viewers and its recording.
 */

/** What a relay or viewer socket carries across hibernation. */
export interface RelayAttachment {
	role: ChannelSide;
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
		private readonly recorder: Recorder,
		private readonly viewers: Viewers,
	) {}

	private get sql(): SqlStorage {
		return this.ctx.storage.sql;
	}

	/**
	 * Accepts a channel's socket whose token was just spent: a viewer joins
	 * the session's viewers; a side gets what the other side sent meanwhile,
	 * and the session's state is updated.
	 */
	attach(sessionId: string, side: ChannelSide, socket: WebSocket): void {
		if (side === "viewer") this.viewers.attach(sessionId, socket);
		else this.attachSide(sessionId, side, socket);
	}

	private attachSide(sessionId: string, side: Side, socket: WebSocket): void {
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
		const vmId = this.sessions.row(sessionId)?.vm_id;
		this.audit.record(side === "user" ? "channel.user_attached" : "channel.vm_attached", {
			sessionId,
			vmId,
		});
		if (side === "vm" && vmId) this.recorder.begin(sessionId, vmId);
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
		// The contract's states: vm_pending until the VM channel attaches, whether
		// or not the user has dialled yet (what the VM says meanwhile waits here).
		if (side === "vm") {
			this.sql.exec(
				"UPDATE sessions SET state = 'established' WHERE session_id = ? AND state = 'vm_pending'",
				sessionId,
			);
			this.audit.record("session.established", { sessionId, vmId });
		}
	}

	/**
	 * Relays one frame from `socket` to the other side, counting its bytes;
	 * VM output also reaches the viewers and the recording. A viewer's frames
	 * are dropped: they never reach the VM.
	 */
	relay(socket: WebSocket, attachment: RelayAttachment, message: string | ArrayBuffer): void {
		const { role, sessionId } = attachment;
		if (role === "viewer") return;
		const byteLength =
			typeof message === "string" ? encoder.encode(message).byteLength : message.byteLength;
		if (!this.sessions.isOpen(sessionId)) {
			socket.close(1000, "closed");
			return;
		}
		this.sessions.countFrame(sessionId, role, byteLength);
		const [peer] = this.ctx.getWebSockets(sideTag(peerOf(role), sessionId));
		if (peer) peer.send(message);
		else this.hold(sessionId, peerOf(role), message);
		if (role === "vm") {
			this.viewers.broadcast(sessionId, message);
			// After the sends, so the recording's write does not hold them back.
			this.recorder.recordOutput(sessionId, message);
		}
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

	/** A side hung up: the session ends, and the other side is closed with the reason. A viewer just leaves. */
	detach(attachment: RelayAttachment): void {
		const { role, sessionId } = attachment;
		if (role !== "viewer") this.sessions.close(sessionId, `${role}_disconnected`);
		else if (this.sessions.isOpen(sessionId)) this.viewers.left(sessionId);
	}
}
