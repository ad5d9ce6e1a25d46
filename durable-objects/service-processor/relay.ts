import type { TerminalSize } from "../../shared/console-protocol";
import type { AuditTrail } from "./audit";
import { NoticeSockets } from "./notice-sockets";
import type { Recorder } from "./recordings";
import { type ChannelSide, type Side, sideTag } from "./session-record";
import type { SessionStore } from "./sessions";
import { TerminalSizes } from "./terminal-sizes";
import type { Viewers } from "./viewers";

/**
 * The console relay: both sockets of a session live on this object (accepted
 * through the hibernation API, so they outlive an eviction); every text and
 * binary frame goes to the other side verbatim and in order, none over
 * 1 MiB. Frames sent before the other side attaches wait in SQLite, bounded
 * in frames and bytes, and are flushed on attach. All handlers are synchronous, which is what keeps the order.
 * VM output also goes to the session's read-only viewers and its recording.
 * A user side's control messages (console subprotocol v2) go to TerminalSizes, never to the VM.
 */

/** What a relay or viewer socket carries across hibernation. */
export interface RelayAttachment {
	role: ChannelSide;
	sessionId: string;
	/** A VM side replaced by the VM's new host's (after a live migration): its close ends nothing. */
	superseded?: boolean;
	/** A user side or viewer that speaks the console subprotocol: console as binary, notices as text. */
	notices?: boolean;
	/** A user side whose text frames are control messages (console subprotocol v2). */
	controls?: boolean;
	/** The user side's terminal size, as it last told it (see TerminalSizes). */
	terminalSize?: TerminalSize;
}

/** Frames a side may send before the other side attaches. */
export const maxPendingFrames = 1024;

/** Bytes that may wait for an absent side (API.md: bounded at 1 MiB). */
export const maxPendingBytes = 1024 * 1024;

/** The largest frame relayed; a larger one closes the session (API.md: 1 MiB, close 1009). */
export const maxFrameBytes = 1024 * 1024;

/** WebSocket close code "message too big" (RFC 6455 §7.4.1). */
const messageTooBig = 1009;

const encoder = new TextEncoder();

/** What a channel's socket speaks, from the subprotocol the upgrade chose. */
export interface ChannelSpeech {
	/** Console as binary, notices as text (user sides and viewers). */
	notices?: boolean;
	/** Text frames from it are control messages (user sides). */
	controls?: boolean;
}

function peerOf(side: Side): Side {
	return side === "user" ? "vm" : "user";
}

/** Relays frames between the two sides of each session. */
export class Relay {
	/** VM sides replaced by a newer one while this instance lives (their attachments say so too). */
	private readonly superseded = new WeakSet<WebSocket>();
	/** Sends console frames and notices to each side as it speaks. */
	private readonly sockets = new NoticeSockets();
	private readonly terminalSizes: TerminalSizes;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly sessions: SessionStore,
		private readonly audit: AuditTrail,
		private readonly recorder: Recorder,
		private readonly viewers: Viewers,
	) {
		this.terminalSizes = new TerminalSizes(ctx, recorder, viewers);
	}

	private get sql(): SqlStorage {
		return this.ctx.storage.sql;
	}

	/**
	 * Accepts a channel's socket whose token was just spent: a viewer joins
	 * the session's viewers; a side gets what the other side sent meanwhile,
	 * and the session's state is updated.
	 */
	attach(
		sessionId: string,
		side: ChannelSide,
		socket: WebSocket,
		speech: ChannelSpeech = {},
	): void {
		if (side === "viewer") {
			const size = this.terminalSizes.of(sessionId);
			this.viewers.attach(sessionId, socket, { notices: speech.notices, size });
		} else this.attachSide(sessionId, side, socket, speech);
	}

	private attachSide(
		sessionId: string,
		side: Side,
		socket: WebSocket,
		{ notices = false, controls = false }: ChannelSpeech,
	): void {
		// A VM side re-attaching from the VM's new host replaces the old one.
		const replaced = side === "vm" ? this.ctx.getWebSockets(sideTag("vm", sessionId)) : [];
		const arrived = side === "vm" && this.sessions.isMoving(sessionId);
		this.ctx.acceptWebSocket(socket, [sideTag(side, sessionId)]);
		socket.serializeAttachment({
			role: side,
			sessionId,
			...(notices ? { notices } : {}),
			...(controls ? { controls } : {}),
		} satisfies RelayAttachment);
		this.sockets.remember(socket, notices);
		for (const old of replaced) this.supersede(old, sessionId);
		const now = new Date().toISOString();
		// A re-attach keeps the moment the VM side was first secured.
		const column = side === "user" ? "user_attached_at" : "vm_secured_at";
		this.sql.exec(
			`UPDATE sessions SET ${column} = COALESCE(${column}, ?), last_activity_ms = ? WHERE session_id = ?`,
			now,
			Date.now(),
			sessionId,
		);
		const row = this.sessions.row(sessionId);
		const vmId = row?.vm_id;
		if (arrived) {
			this.sessions.markArrived(sessionId);
			this.audit.record("session.vm_reattached", {
				sessionId,
				vmId,
				detail: { vmHostId: row?.vm_host_id },
			});
			const [user] = this.ctx.getWebSockets(sideTag("user", sessionId));
			if (user && row?.vm_host_id)
				this.sockets.sendNotice(user, { type: "vm_moved", vmHostId: row.vm_host_id });
		} else {
			this.audit.record(side === "user" ? "channel.user_attached" : "channel.vm_attached", {
				sessionId,
				vmId,
			});
		}
		// One continuous cast across a move: an existing recording goes on.
		if (side === "vm" && vmId)
			this.recorder.begin(sessionId, vmId, this.terminalSizes.of(sessionId));
		const pending = this.sql
			.exec<{ seq: number; text: string | null; data: ArrayBuffer | null }>(
				"SELECT seq, text, data FROM pending_frames WHERE session_id = ? AND to_side = ? ORDER BY seq",
				sessionId,
				side,
			)
			.toArray();
		for (const frame of pending) this.sockets.sendConsole(socket, frame.text ?? frame.data ?? "");
		this.sql.exec(
			"DELETE FROM pending_frames WHERE session_id = ? AND to_side = ?",
			sessionId,
			side,
		);
		// The contract's states: vm_pending until the VM channel attaches, whether
		// or not the user has dialled yet (what the VM says meanwhile waits here).
		if (side === "vm" && row?.state === "vm_pending") {
			this.sql.exec(
				"UPDATE sessions SET state = 'established' WHERE session_id = ? AND state = 'vm_pending'",
				sessionId,
			);
			this.audit.record("session.established", { sessionId, vmId });
		}
	}

	/** Closes a VM side the VM's new host replaced; its close event ends nothing. */
	private supersede(socket: WebSocket, sessionId: string): void {
		this.superseded.add(socket);
		socket.serializeAttachment({
			role: "vm",
			sessionId,
			superseded: true,
		} satisfies RelayAttachment);
		try {
			socket.close(1000, "vm_migrated");
		} catch {
			// Already closing.
		}
	}

	/** The VM side frames go to: the newest that was not replaced. */
	private vmSide(sessionId: string): WebSocket | undefined {
		const sockets = this.ctx.getWebSockets(sideTag("vm", sessionId));
		if (sockets.length <= 1) {
			const [only] = sockets;
			return only && !this.superseded.has(only) ? only : undefined;
		}
		return sockets.filter((socket) => !this.isSuperseded(socket)).at(-1);
	}

	private isSuperseded(socket: WebSocket): boolean {
		if (this.superseded.has(socket)) return true;
		return (socket.deserializeAttachment() as RelayAttachment | null)?.superseded === true;
	}

	/**
	 * Relays one frame from `socket` to the other side, counting its bytes;
	 * VM output also reaches the viewers and the recording. A viewer's frames
	 * are dropped, and so is a user side's text frame under console
	 * subprotocol v2, once read as a control message: neither reaches the VM.
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
		if (byteLength > maxFrameBytes) {
			// Never relayed in part nor dropped in silence: the session ends, and says why.
			this.sessions.close(sessionId, "frame_too_large", messageTooBig);
			return;
		}
		if (attachment.controls && typeof message === "string") {
			this.terminalSizes.control(socket, attachment, message);
			return;
		}
		this.sessions.countFrame(sessionId, role, byteLength);
		// While the VM side moves to the VM's new host, input waits here for it.
		const peer =
			role === "user"
				? this.sessions.isMoving(sessionId)
					? undefined
					: this.vmSide(sessionId)
				: this.ctx.getWebSockets(sideTag("user", sessionId))[0];
		if (peer) this.sockets.sendConsole(peer, message);
		else this.hold(sessionId, peerOf(role), message, byteLength);
		if (role === "vm") {
			this.viewers.broadcast(sessionId, message);
			// After the sends, so the recording's write does not hold them back.
			this.recorder.recordOutput(sessionId, message);
		}
	}

	private hold(
		sessionId: string,
		toSide: Side,
		message: string | ArrayBuffer,
		byteLength: number,
	): void {
		const [row] = this.sql
			.exec<{ frames: number; bytes: number }>(
				"SELECT COUNT(*) AS frames, COALESCE(SUM(bytes), 0) AS bytes FROM pending_frames WHERE session_id = ?",
				sessionId,
			)
			.toArray();
		const frames = row?.frames ?? 0;
		const bytes = row?.bytes ?? 0;
		if (frames >= maxPendingFrames || bytes + byteLength > maxPendingBytes) {
			this.sessions.close(sessionId, "buffer_overflow");
			return;
		}
		this.sql.exec(
			"INSERT INTO pending_frames (session_id, to_side, text, data, bytes) VALUES (?, ?, ?, ?, ?)",
			sessionId,
			toSide,
			typeof message === "string" ? message : null,
			typeof message === "string" ? null : message,
			byteLength,
		);
	}

	/**
	 * A side hung up: the session ends, and the other side is closed with the
	 * reason. A viewer just leaves. A VM side that was replaced, or whose VM is
	 * moving to another host (the old host let go), ends nothing.
	 */
	detach(socket: WebSocket, attachment: RelayAttachment): void {
		const { role, sessionId } = attachment;
		if (role === "viewer") {
			if (this.sessions.isOpen(sessionId)) this.viewers.left(sessionId);
			return;
		}
		if (role === "vm" && (this.isSuperseded(socket) || this.sessions.isMoving(sessionId))) return;
		this.sessions.close(sessionId, `${role}_disconnected`);
	}
}
