import { Problem } from "../../shared/problem";
import type { AgentChannel } from "./agent";
import type { AuditTrail } from "./audit";
import type { Recorder } from "./recordings";
import {
	type ChannelGrant,
	type ChannelSide,
	type ChannelTokens,
	channelUrl,
	type MintedToken,
	mintChannelToken,
	type SessionLimits,
	type SessionRecord,
	type SessionRow,
	type Side,
	sideTag,
	toRecord,
	userTokenTtlMs,
} from "./session-record";
import type { Viewers } from "./viewers";

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
	/** Sessions seen open since this instance started; `close` is the only way out. */
	private readonly knownOpen = new Set<string>();
	/** Whether each session's VM side is moving to another host, as last read or set. */
	private readonly moving = new Map<string, boolean>();
	private flushTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly audit: AuditTrail,
		private readonly agent: AgentChannel,
		private readonly limits: SessionLimits,
		private readonly recorder: Recorder,
		private readonly viewers: Viewers,
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

	/** True while the session is not closed; read once per instance, not per frame. */
	isOpen(sessionId: string): boolean {
		if (this.knownOpen.has(sessionId)) return true;
		const open =
			this.sql
				.exec("SELECT 1 FROM sessions WHERE session_id = ? AND state != 'closed'", sessionId)
				.toArray().length > 0;
		if (open) this.knownOpen.add(sessionId);
		return open;
	}

	/**
	 * True while the session's VM side moves to the VM's new host (after a
	 * live migration, until that host's agent re-attaches); read once per instance.
	 */
	isMoving(sessionId: string): boolean {
		let moving = this.moving.get(sessionId);
		if (moving === undefined) {
			moving =
				this.sql
					.exec(
						"SELECT 1 FROM sessions WHERE session_id = ? AND vm_reattach_deadline_ms IS NOT NULL",
						sessionId,
					)
					.toArray().length > 0;
			this.moving.set(sessionId, moving);
		}
		return moving;
	}

	/** The VM side starts moving to `vmHostId`; it must re-attach by `deadlineMs`. */
	markMoving(sessionId: string, vmHostId: string, deadlineMs: number): void {
		this.sql.exec(
			"UPDATE sessions SET vm_host_id = ?, vm_reattach_deadline_ms = ? WHERE session_id = ?",
			vmHostId,
			deadlineMs,
			sessionId,
		);
		this.moving.set(sessionId, true);
	}

	/** The moved VM side re-attached. */
	markArrived(sessionId: string): void {
		this.sql.exec(
			"UPDATE sessions SET vm_reattach_deadline_ms = NULL WHERE session_id = ?",
			sessionId,
		);
		this.moving.set(sessionId, false);
	}

	/** Open sessions of a VM held here. */
	openForVm(vmId: string): SessionRow[] {
		this.flushCounters();
		return this.sql
			.exec<SessionRow>("SELECT * FROM sessions WHERE vm_id = ? AND state != 'closed'", vmId)
			.toArray();
	}

	/** The stored row, without the viewer count and recording summary a record adds. */
	row(sessionId: string): SessionRow | undefined {
		this.flushCounters();
		return this.sql
			.exec<SessionRow>("SELECT * FROM sessions WHERE session_id = ?", sessionId)
			.toArray()[0];
	}

	private record(row: SessionRow): SessionRecord {
		return toRecord(row, {
			viewers: this.viewers.count(row.session_id),
			recording: this.recorder.summary(row.session_id),
		});
	}

	/** The session, or null. */
	get(sessionId: string): SessionRecord | null {
		const row = this.row(sessionId);
		return row ? this.record(row) : null;
	}

	/** Every session of this SP, newest first. */
	list(): SessionRecord[] {
		this.flushCounters();
		return this.sql
			.exec<SessionRow>("SELECT * FROM sessions ORDER BY created_ms DESC, session_id")
			.toArray()
			.map((row) => this.record(row));
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
		/** The VM's size, for the agent (a simulated guest shows it). */
		vm: { memoryMiB: number; vcpus: number };
	}): { userChannel: ChannelGrant } {
		const { sessionId, tokens, channelOrigin } = input;
		const nowMs = Date.now();
		this.sql.exec(
			`INSERT INTO sessions (session_id, vm_id, key_version, state, created_at, created_ms, user_secured_at, last_activity_ms, channel_origin)
			 VALUES (?, ?, ?, 'vm_pending', ?, ?, ?, ?, ?)`,
			sessionId,
			input.vmId,
			input.keyVersion,
			new Date(nowMs).toISOString(),
			nowMs,
			input.userSecuredAt,
			nowMs,
			channelOrigin,
		);
		const user = { token: tokens.userToken, tokenHash: tokens.userTokenHash };
		const vm = { token: tokens.vmToken, tokenHash: tokens.vmTokenHash };
		const userChannel = this.grantChannel(sessionId, "user", user, channelOrigin, userTokenTtlMs);
		// The agent may be offline for a while; its token lives as long as the session may.
		const vmChannel = this.grantChannel(sessionId, "vm", vm, channelOrigin, this.limits.maxMs);
		this.agent.enqueue(
			{
				type: "session.open",
				sessionId,
				vmId: input.vmId,
				channel: { url: vmChannel.url },
				vm: input.vm,
			},
			sessionId,
		);
		return { userChannel };
	}

	/**
	 * Stores the hash of a minted single-use token for one channel of a
	 * session, valid for `ttlMs`, and returns the channel's URL.
	 */
	grantChannel(
		sessionId: string,
		side: ChannelSide,
		minted: MintedToken,
		channelOrigin: string,
		ttlMs: number,
	): ChannelGrant {
		const expiresMs = Date.now() + ttlMs;
		this.sql.exec(
			"INSERT INTO channel_tokens (token_hash, session_id, side, expires_ms) VALUES (?, ?, ?, ?)",
			minted.tokenHash,
			sessionId,
			side,
			expiresMs,
		);
		return {
			url: channelUrl(channelOrigin, sessionId, side, minted.token),
			token: minted.token,
			expiresAt: new Date(expiresMs).toISOString(),
		};
	}

	/**
	 * Hands out a single-use read-only viewer channel of a live session;
	 * throws `not_found` for an unknown session, `session_closed` for a closed one.
	 */
	async openViewer(sessionId: string, channelOrigin: string): Promise<ChannelGrant> {
		const minted = await mintChannelToken();
		// Checked after the await, so the check and the token insert are one step.
		const session = this.row(sessionId);
		if (!session) throw new Problem("not_found", "no such session");
		if (session.state === "closed") {
			throw new Problem("session_closed", `the session is closed (${session.close_reason})`);
		}
		return this.grantChannel(sessionId, "viewer", minted, channelOrigin, userTokenTtlMs);
	}

	/**
	 * On the session's holder: a new VM-channel URL for an agent whose
	 * `session.open` was queued without its token (./agent.ts), valid until
	 * the session's VM side must be back (moving) or its longest life; null
	 * once the session is closed or was made before channel origins were kept.
	 */
	async regrantVmChannel(sessionId: string): Promise<string | null> {
		const minted = await mintChannelToken();
		const row = this.row(sessionId);
		if (!row || row.state === "closed" || row.channel_origin === null) return null;
		const ttlMs =
			row.vm_reattach_deadline_ms === null
				? this.limits.maxMs
				: Math.max(0, row.vm_reattach_deadline_ms - Date.now());
		return this.grantChannel(sessionId, "vm", minted, row.channel_origin, ttlMs).url;
	}

	/**
	 * Spends a channel token: true once for a valid, unexpired token of that
	 * session and side, false ever after. One statement, so it is atomic.
	 */
	consumeToken(sessionId: string, side: ChannelSide, tokenHash: string): boolean {
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

	/**
	 * Closes a session once: both sockets (with the reason and `closeCode`) and its viewers,
	 * its tokens and buffered frames; finishes its recording; tells the agent.
	 */
	close(sessionId: string, reason: string, closeCode = 1000): boolean {
		this.flushCounters();
		const closed = this.sql.exec(
			"UPDATE sessions SET state = 'closed', closed_at = ?, close_reason = ? WHERE session_id = ? AND state != 'closed'",
			new Date().toISOString(),
			reason,
			sessionId,
		).rowsWritten;
		this.knownOpen.delete(sessionId);
		this.moving.delete(sessionId);
		if (closed === 0) return false;
		this.sql.exec("DELETE FROM channel_tokens WHERE session_id = ?", sessionId);
		this.sql.exec("DELETE FROM pending_frames WHERE session_id = ?", sessionId);
		for (const side of ["user", "vm"] as const) {
			for (const socket of this.ctx.getWebSockets(sideTag(side, sessionId))) {
				try {
					socket.close(closeCode, reason);
				} catch {
					// Already closing; the record above is what counts.
				}
			}
		}
		this.viewers.closeAll(sessionId, reason);
		this.recorder.finish(sessionId);
		if (this.agent.withdrawSessionOpen(sessionId)) {
			this.agent.enqueue({ type: "session.close", sessionId, reason }, sessionId);
		}
		const row = this.row(sessionId);
		this.audit.record("session.closed", { sessionId, vmId: row?.vm_id, detail: { reason } });
		return true;
	}

	/** Closes the open sessions of a VM, e.g. on rotation or removal. */
	closeForVm(vmId: string, reason: string): number {
		const open = this.openForVm(vmId);
		for (const { session_id } of open) this.close(session_id, reason);
		return open.length;
	}

	/**
	 * Closes sessions past their maximum duration or idle timeout, and those
	 * whose user channel token expired unused: no user can attach any more,
	 * and the VM side must not be kept open (and buffering) for nobody.
	 */
	closeExpired(nowMs: number): void {
		this.flushCounters();
		const open = this.sql
			.exec<SessionRow>("SELECT * FROM sessions WHERE state != 'closed'")
			.toArray();
		for (const row of open) {
			if (row.created_ms + this.limits.maxMs <= nowMs) this.close(row.session_id, "max_duration");
			else if (row.vm_reattach_deadline_ms !== null && row.vm_reattach_deadline_ms <= nowMs) {
				this.close(row.session_id, "vm_migrated");
			} else if (row.user_attached_at === null && row.created_ms + userTokenTtlMs <= nowMs) {
				this.close(row.session_id, "user_never_attached");
			} else if (row.last_activity_ms + this.limits.idleMs <= nowMs) {
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
				row.vm_reattach_deadline_ms === null &&
				this.ctx.getWebSockets(sideTag("vm", row.session_id)).length === 0;
			if (userGone || vmGone) this.close(row.session_id, "connection_lost");
		}
	}

	/** The earliest deadline of an open session: its user token's, idle, duration or re-attach. */
	nextDeadlineMs(): number | undefined {
		this.flushCounters();
		const [row] = this.sql
			.exec<{ deadline: number | null }>(
				`SELECT MIN(MIN(created_ms + ?, last_activity_ms + ?,
					CASE WHEN user_attached_at IS NULL THEN created_ms + ? ELSE created_ms + ? END,
					COALESCE(vm_reattach_deadline_ms, created_ms + ?))) AS deadline
				 FROM sessions WHERE state != 'closed'`,
				this.limits.maxMs,
				this.limits.idleMs,
				userTokenTtlMs,
				this.limits.maxMs,
				this.limits.maxMs,
			)
			.toArray();
		return row?.deadline ?? undefined;
	}
}
