import { digestsEqual } from "../../shared/crypto";
import { keyLockoutPolicy } from "../../shared/lockout";
import { newOwnedId } from "../../shared/owned-id";
import { Problem } from "../../shared/problem";
import type { SeenJtis } from "../seen-jtis";
import type { AuditTrail } from "./audit";
import type { HostStore } from "./host";
import type { KeyLockouts } from "./lockouts";
import { type ChannelTokens, mintChannelTokens } from "./session-record";
import type { SessionStore } from "./sessions";
import type { VmTable } from "./table";

/**
 * The two steps of a broadcast session request on the service processor that
 * holds the VM id (patent US 2024/0364665 A1): the VM-id match secures the
 * user side (`userSecuredAt`), and only then is the key compared — in
 * constant time, behind the brute-force back-off.
 */

/** A broadcast request as the edge decrypted it; the key arrives hashed. */
export interface SessionRequest {
	domain: string;
	vmId: string;
	keyHash: string;
	jti: string;
	/** The request's `exp` (seconds since the epoch): its jti is refused until then. */
	expSeconds: number;
	/** `ws://` or `wss://` origin the channel URLs are built on. */
	channelOrigin: string;
	/** The requester's address (`CF-Connecting-IP`): key lockouts hold per address. */
	client: string;
}

/**
 * How the request reached this SP: "flooded" when every member of the domain
 * was asked and this one was chosen (by placement if two hold the row),
 * "placed" when the domain sent it here alone because the VM object's
 * placement names this host, "learned" when the domain sent it here alone
 * from its forwarding table, "direct" when the edge sent it here because this
 * SP answered for the VM before. Mid-handoff two SPs hold the row, so only the
 * routes that asked the placement may pick one that is handing off.
 */
export type BroadcastRoute = "flooded" | "placed" | "learned" | "direct";

const placementRoutes: ReadonlySet<BroadcastRoute> = new Set(["flooded", "placed"]);

/** `201` body of `POST /v1/sessions`. */
export interface SessionOpened {
	sessionId: string;
	hostId: string;
	vmId: string;
	state: "vm_pending";
	userChannel: { url: string; token: string; expiresAt: string };
}

/** The parts of a service processor a session request works on. */
export interface AccessParts {
	hosts: HostStore;
	table: VmTable;
	sessions: SessionStore;
	audit: AuditTrail;
	lockouts: KeyLockouts;
	seenJtis: SeenJtis;
	/** True while the VM's row is being handed off to another SP. */
	handingOff(vmId: string): boolean;
}

/** Runs both steps; throws `vm_not_found`, `key_mismatch` or `too_many_attempts`. */
export async function openSession(
	parts: AccessParts,
	request: SessionRequest,
	route: BroadcastRoute,
): Promise<SessionOpened> {
	// Minted first: from the lookup on nothing yields, so the row read, the
	// lockout count and the session write see one state.
	const tokens = await mintChannelTokens();
	return parts.audit.batch(() => decide(parts, request, route, tokens));
}

function decide(
	parts: AccessParts,
	request: SessionRequest,
	route: BroadcastRoute,
	tokens: ChannelTokens,
): SessionOpened {
	const { hosts, table, sessions, audit, lockouts } = parts;
	const { vmId, jti, client } = request;
	const host = hosts.get();
	// A stale domain member (the host moved domains) must not answer for the old domain.
	const vm = host?.domain === request.domain ? table.get(vmId) : undefined;
	const needsPlacement = !placementRoutes.has(route) && parts.handingOff(vmId);
	if (!host || !vm || needsPlacement) {
		throw new Problem("vm_not_found", "no service processor in the domain holds this VM");
	}
	// The holder guards its VMs' jtis itself: a request from the edge skips the domain.
	parts.seenJtis.remember(jti, request.expSeconds, vmId);
	// The route tells an operator how the request found this SP (see BroadcastRoute).
	audit.record("session.requested", { vmId, detail: { jti, route, client } });
	const userSecuredAt = new Date().toISOString();
	audit.record("session.id_matched", { vmId, detail: { jti, userSecuredAt } });

	const matched = digestsEqual(request.keyHash, vm.keyHash);
	const nowMs = Date.now();
	const before = lockouts.state(vmId, client, nowMs);
	if (before.locked) {
		audit.record("session.locked_out", {
			vmId,
			detail: { jti, client, retryAfterSeconds: before.retryAfterSeconds },
		});
		throw tooManyAttempts(before.retryAfterSeconds);
	}
	if (!matched) {
		const after = lockouts.recordMismatch(vmId, client, nowMs);
		audit.record("session.key_mismatched", { vmId, detail: { jti, client } });
		if (after.locked) {
			audit.record("session.locked_out", {
				vmId,
				detail: { jti, client, retryAfterSeconds: after.retryAfterSeconds },
			});
			throw tooManyAttempts(after.retryAfterSeconds);
		}
		throw new Problem("key_mismatch", "the VM id matched but the key did not");
	}
	const sessionId = newOwnedId(host.hostId);
	const { userChannel } = sessions.create({
		sessionId,
		vmId,
		keyVersion: vm.keyVersion,
		userSecuredAt,
		channelOrigin: request.channelOrigin,
		tokens,
		vm: { memoryMiB: vm.memoryMiB, vcpus: vm.vcpus },
	});
	audit.record("session.key_matched", {
		sessionId,
		vmId,
		detail: { jti, keyVersion: vm.keyVersion },
	});
	return { sessionId, hostId: host.hostId, vmId, state: "vm_pending", userChannel };
}

function tooManyAttempts(retryAfterSeconds: number): Problem {
	return new Problem(
		"too_many_attempts",
		`more than ${keyLockoutPolicy.maxMismatches} key mismatches for this VM from your address within ${keyLockoutPolicy.windowMs / 60_000} minutes; retry later`,
		{ retryAfterSeconds },
	);
}
