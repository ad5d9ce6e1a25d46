import type { z } from "@hono/zod-openapi";
import { hashSecret, newChannelToken } from "../../shared/keys";
import { ownerOfId } from "../../shared/owned-id";
import type {
	ChannelGrantSchema,
	RecordingSummarySchema,
	SessionSchema,
} from "../../shared/schemas/sessions";

/** Session records as stored and as admins see them, and their channel tokens. */

/** The two ends of a console session. */
export type Side = "user" | "vm";

/** Every channel a session hands out a token for: its two ends and read-only viewers. */
export type ChannelSide = Side | "viewer";

/** Session records as the contract shows them (inferred from their zod schemas, never written twice). */
export type SessionRecord = z.infer<typeof SessionSchema>;
export type SessionState = SessionRecord["state"];
export type RecordingSummary = z.infer<typeof RecordingSummarySchema>;

/** A channel URL with its single-use token, as handed to a client. */
export type ChannelGrant = z.infer<typeof ChannelGrantSchema>;

/** A freshly minted channel token and the hash that is stored. */
export interface MintedToken {
	token: string;
	tokenHash: string;
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

function secondsFromEnv(value: string | undefined, fallbackSeconds: number): number {
	const seconds = Number(value);
	return Number.isFinite(seconds) && seconds > 0 ? seconds : fallbackSeconds;
}

/** The idle and maximum-duration limits configured in `env` (15 min and 12 h by default). */
export function sessionLimitsFrom(env: Env): SessionLimits {
	return {
		idleMs: secondsFromEnv(env.SESSION_IDLE_TIMEOUT_SECONDS, 900) * 1000,
		maxMs: secondsFromEnv(env.SESSION_MAX_DURATION_SECONDS, 43_200) * 1000,
	};
}

/** A row of the sessions table. */
export type SessionRow = {
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
	vm_host_id: string | null;
	channel_origin: string | null;
	vm_reattach_deadline_ms: number | null;
};

/** The admin view of a row, with what lives outside it. */
export function toRecord(
	row: SessionRow,
	extras: { viewers: number; recording: RecordingSummary | null },
): SessionRecord {
	return {
		sessionId: row.session_id,
		hostId: ownerOfId(row.session_id) ?? "",
		vmHostId: row.vm_host_id ?? ownerOfId(row.session_id) ?? "",
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
		viewers: row.state === "closed" ? 0 : extras.viewers,
		recording: extras.recording,
	};
}

/** WebSocket tag of one channel of one session (hibernation API). */
export function sideTag(side: ChannelSide, sessionId: string): string {
	return `${side}:${sessionId}`;
}

/** The URL a client dials for one channel of a session. */
export function channelUrl(
	channelOrigin: string,
	sessionId: string,
	side: ChannelSide,
	token: string,
): string {
	return `${channelOrigin}/v1/sessions/${encodeURIComponent(sessionId)}/${side}?token=${token}`;
}

/** Mints one single-use channel token; only its hash is stored. */
export async function mintChannelToken(): Promise<MintedToken> {
	const token = newChannelToken();
	return { token, tokenHash: await hashSecret(token) };
}

/** Mints the user and VM channel tokens of a new session. */
export async function mintChannelTokens(): Promise<ChannelTokens> {
	const [user, vm] = await Promise.all([mintChannelToken(), mintChannelToken()]);
	return {
		userToken: user.token,
		userTokenHash: user.tokenHash,
		vmToken: vm.token,
		vmTokenHash: vm.tokenHash,
	};
}
