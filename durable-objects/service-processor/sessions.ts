import { hashSecret, newChannelToken } from "../../shared/keys";
import { hostOfSessionId } from "../../shared/session-id";
import type { AgentChannel } from "./agent";
import type { AuditTrail } from "./audit";

/** The two ends of a console session. */
export type Side = "user" | "vm";

/** Session states (API.md): the VM side attaches after the user side is secured. */
export type SessionState = "vm_pending" | "established" | "closed";

/** A session record as admins see it. */
export interface SessionRecord {
	sessionId: string;
	hostId: string;
	vmId: string;
	state: SessionState;
	keyVersion: number;
	createdAt: string;
	userSecuredAt: string;
	vmSecuredAt: string | null;
	closedAt: string | null;
	closeReason: string | null;
	bytesFromUser: number;
	bytesFromVm: number;
}

/** Single-use channel tokens minted for a new session, with their hashes. */
export interface ChannelTokens {
	userToken: string;
	userTokenHash: string;
	vmToken: string;
	vmTokenHash: string;
}

/** How long the user channel token stays valid (API.md: 60 s). */
export const userTokenTtlMs = 60_000;

/** Idle timeout and maximum duration of a session. */
export interface SessionLimits {
	idleMs: number;
	maxMs: number;
}

type SessionRow = {
	session_id: string;
	vm_id: string;
	key_version: number;
	state: SessionState;
	created_at: string;
	created_ms: number;
	user_secured_at: string;
	user_attached_at: string | null;
	vm_secured_at: string | null;
	closed_at: string | null;
	close_reason: string | null;
	bytes_from_user: number;
	bytes_from_vm: number;
	last_activity_ms: number;
};

function toRecord(row: SessionRow): SessionRecord {
	return {
		sessionId: row.session_id,
		hostId: hostOfSessionId(row.session_id) ?? "",
		vmId: row.vm_id,
		state: row.state,
		keyVersion: row.key_version,
		createdAt: row.created_at,
		userSecuredAt: row.user_secured_at,
		vmSecuredAt: row.vm_secured_at,
		closedAt: row.closed_at,
		closeReason: row.close_reason,
		bytesFromUser: row.bytes_from_user,
		bytesFromVm: row.bytes_from_vm,
	};
}

/** WebSocket tag of one side of one session (hibernation API). */
export function sideTag(side: Side, sessionId: string): string {
	return `${side}:${sessionId}`;
}

/** Mints the user and VM channel tokens of a new session. */
export async function mintChannelTokens(): Promise<ChannelTokens> {
	const userToken = newChannelToken();
	const vmToken = newChannelToken();
	const [userTokenHash, vmTokenHash] = await Promise.all([
		hashSecret(userToken),
		hashSecret(vmToken),
	]);
	return { userToken, userTokenHash, vmToken, vmTokenHash };
}

/** How long relayed-byte counts may wait in memory before they are written. */
export const counterFlushMs = 1_000;

type Unflushed = { fromUser: number; fromVm: number; lastActivityMs: number };

/**
 * Session records and their lifecycle: creation, closing, timeouts.
 *
 * Relayed-byte counts and last activity are kept in memory and written at
 * most `counterFlushMs` later (and before any read): a write per frame would
 * make every frame wait for a storage commit (output gate). An eviction can
 * lose at most that last second of counts, never a frame.
 */
export class SessionStore {
	private readonly unflushed = new Map<string, Unflushed>();
	private flushTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly audit: AuditTrail,
		private readonly agent: AgentChannel,
		private readonly limits: SessionLimits,
	) {}

	private get sql(): SqlStorage {
		return this.ctx.storage.sql;
	}

	/** Counts one relayed frame of `byteLength` bytes from `side`. */
	countFrame(sessionId: string, side: Side, byteLength: number): void {
		const entry = this.unflushed.get(sessionId) ?? { fromUser: 0, fromVm: 0, lastActivityMs: 0 };
		if (side === "user") entry.fromUser += byteLength;
		else entry.fromVm += byteLength;
		entry.lastActivityMs = Date.now();
		this.unflushed.set(sessionId, entry);
		this.flushTimer ??= setTimeout(() => this.flushCounters(), counterFlushMs);
	}

	/** Writes the in-memory counts; every read of session rows calls this first. */
	flushCounters(): void {
		clearTimeout(this.flushTimer);
		this.flushTimer = undefined;
		for (const [sessionId, entry] of this.unflushed) {
			this.sql.exec(
				"UPDATE sessions SET bytes_from_user = bytes_from_user + ?, bytes_from_vm = bytes_from_vm + ?, last_activity_ms = MAX(last_activity_ms, ?) WHERE session_id = ?",
				entry.fromUser,
				entry.fromVm,
				entry.lastActivityMs,
				sessionId,
			);
		}
		this.unflushed.clear();
	}

	/** True while the session is not closed. */
	isOpen(sessionId: string): boolean {
		return (
			this.sql
				.exec("SELECT 1 FROM sessions WHERE session_id = ? AND state != 'closed'", sessionId)
				.toArray().length > 0
		);
	}

	private row(sessionId: string): SessionRow | undefined {
		this.flushCounters();
		return this.sql
			.exec<SessionRow>("SELECT * FROM sessions WHERE session_id = ?", sessionId)
			.toArray()[0];
	}

	/** The session, or null. */
	get(sessionId: string): SessionRecord | null {
		const row = this.row(sessionId);
		return row ? toRecord(row) : null;
	}

	/** Every session of this SP, newest first. */
	list(): SessionRecord[] {
		this.flushCounters();
		return this.sql
			.exec<SessionRow>("SELECT * FROM sessions ORDER BY created_ms DESC, session_id")
			.toArray()
			.map(toRecord);
	}

	/**
	 * Records a session whose user side is secured (`userSecuredAt`, the VM-id
	 * match) and whose key matched, stores its single-use channel tokens and
	 * asks the host agent to dial the VM side.
	 */
	create(input: {
		sessionId: string;
		vmId: string;
		keyVersion: number;
		userSecuredAt: string;
		channelOrigin: string;
		tokens: ChannelTokens;
	}): { userChannel: { url: string; token: string; expiresAt: string } } {
		const { sessionId, tokens } = input;
		const nowMs = Date.now();
		this.sql.exec(
			`INSERT INTO sessions (session_id, vm_id, key_version, state, created_at, created_ms, user_secured_at, last_activity_ms)
			 VALUES (?, ?, ?, 'vm_pending', ?, ?, ?, ?)`,
			sessionId,
			input.vmId,
			input.keyVersion,
			new Date(nowMs).toISOString(),
			nowMs,
			input.userSecuredAt,
			nowMs,
		);
		const userExpiresMs = nowMs + userTokenTtlMs;
		const insertToken =
			"INSERT INTO channel_tokens (token_hash, session_id, side, expires_ms) VALUES (?, ?, ?, ?)";
		this.sql.exec(insertToken, tokens.userTokenHash, sessionId, "user", userExpiresMs);
		// The agent may be offline for a while; its token lives as long as the session may.
		this.sql.exec(insertToken, tokens.vmTokenHash, sessionId, "vm", nowMs + this.limits.maxMs);
		const channelBase = `${input.channelOrigin}/v1/sessions/${encodeURIComponent(sessionId)}`;
		this.agent.enqueue(
			{
				type: "session.open",
				sessionId,
				vmId: input.vmId,
				channel: { url: `${channelBase}/vm?token=${tokens.vmToken}` },
			},
			sessionId,
		);
		return {
			userChannel: {
				url: `${channelBase}/user?token=${tokens.userToken}`,
				token: tokens.userToken,
				expiresAt: new Date(userExpiresMs).toISOString(),
			},
		};
	}

	/**
	 * Spends a channel token: true once for a valid, unexpired token of that
	 * session and side, false ever after. One statement, so it is atomic.
	 */
	consumeToken(sessionId: string, side: Side, tokenHash: string): boolean {
		return (
			this.sql.exec(
				"DELETE FROM channel_tokens WHERE token_hash = ? AND session_id = ? AND side = ? AND expires_ms > ?",
				tokenHash,
				sessionId,
				side,
				Date.now(),
			).rowsWritten > 0
		);
	}

	/** Closes a session once: both sockets, its tokens and buffered frames; tells the agent. */
	close(sessionId: string, reason: string): boolean {
		this.flushCounters();
		const closed = this.sql.exec(
			"UPDATE sessions SET state = 'closed', closed_at = ?, close_reason = ? WHERE session_id = ? AND state != 'closed'",
			new Date().toISOString(),
			reason,
			sessionId,
		).rowsWritten;
		if (closed === 0) return false;
		this.sql.exec("DELETE FROM channel_tokens WHERE session_id = ?", sessionId);
		this.sql.exec("DELETE FROM pending_frames WHERE session_id = ?", sessionId);
		for (const side of ["user", "vm"] as const) {
			for (const socket of this.ctx.getWebSockets(sideTag(side, sessionId))) {
				try {
					socket.close(1000, reason);
				} catch {
					// Already closing; the record above is what counts.
				}
			}
		}
		if (this.agent.withdrawSessionOpen(sessionId)) {
			this.agent.enqueue({ type: "session.close", sessionId, reason }, sessionId);
		}
		const row = this.row(sessionId);
		this.audit.record("session.closed", { sessionId, vmId: row?.vm_id, detail: { reason } });
		return true;
	}

	/** Closes the open sessions of a VM, e.g. on rotation or removal. */
	closeForVm(vmId: string, reason: string): number {
		const open = this.sql
			.exec<{ session_id: string }>(
				"SELECT session_id FROM sessions WHERE vm_id = ? AND state != 'closed'",
				vmId,
			)
			.toArray();
		for (const { session_id } of open) this.close(session_id, reason);
		return open.length;
	}

	/** Closes sessions past their maximum duration or idle timeout. */
	closeExpired(nowMs: number): void {
		this.flushCounters();
		const open = this.sql
			.exec<SessionRow>("SELECT * FROM sessions WHERE state != 'closed'")
			.toArray();
		for (const row of open) {
			if (row.created_ms + this.limits.maxMs <= nowMs) this.close(row.session_id, "max_duration");
			else if (row.last_activity_ms + this.limits.idleMs <= nowMs) {
				this.close(row.session_id, "idle_timeout");
			}
		}
	}

	/**
	 * Closes sessions whose attached socket is gone without a close event (the
	 * object was evicted with its sockets closed), so none ends silently.
	 */
	closeOrphaned(): void {
		const attached = this.sql
			.exec<SessionRow>(
				"SELECT * FROM sessions WHERE state != 'closed' AND (user_attached_at IS NOT NULL OR vm_secured_at IS NOT NULL)",
			)
			.toArray();
		for (const row of attached) {
			const userGone =
				row.user_attached_at !== null &&
				this.ctx.getWebSockets(sideTag("user", row.session_id)).length === 0;
			const vmGone =
				row.vm_secured_at !== null &&
				this.ctx.getWebSockets(sideTag("vm", row.session_id)).length === 0;
			if (userGone || vmGone) this.close(row.session_id, "connection_lost");
		}
	}

	/** The earliest idle or duration deadline of an open session. */
	nextDeadlineMs(): number | undefined {
		this.flushCounters();
		const [row] = this.sql
			.exec<{ deadline: number | null }>(
				"SELECT MIN(MIN(created_ms + ?, last_activity_ms + ?)) AS deadline FROM sessions WHERE state != 'closed'",
				this.limits.maxMs,
				this.limits.idleMs,
			)
			.toArray();
		return row?.deadline ?? undefined;
	}
}
