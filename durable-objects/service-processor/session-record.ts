import { hashSecret, newChannelToken } from "../../shared/keys";
import { hostOfSessionId } from "../../shared/session-id";

/** Session records as stored and as admins see them, and their channel tokens. */

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
};

/** The admin view of a row. */
export function toRecord(row: SessionRow): SessionRecord {
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
