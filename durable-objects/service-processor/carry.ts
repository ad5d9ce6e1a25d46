import { serviceProcessor } from "../stubs";
import type { AgentChannel } from "./agent";
import type { AuditTrail } from "./audit";
import { mintChannelToken } from "./session-record";
import type { SessionStore } from "./sessions";

/**
 * Console sessions that survive their VM's live migration. A session stays
 * on the service processor that secured it (its holder: the session id names
 * it, so every channel URL still reaches it); only its VM side moves. When
 * the VM's row is released after a migration, the old VM host's SP asks each
 * holder to carry its sessions: the holder keeps the user's input from then
 * on, mints a VM-channel token, and the new VM host's SP asks its agent to
 * dial it. The first VM side to attach from the new host replaces the old one
 * and gets the input that waited, in order; a VM side that does not come
 * within `reattachWindowMs` closes the session with `vm_migrated`.
 *
 * The VM's current host keeps the sessions other SPs hold for its VMs
 * (`carried_sessions`), so a rotation or removal there, or the VM's next
 * migration, still reaches them.
 */

/** How long the VM's new host's agent has to re-attach a carried session. */
export const reattachWindowMs = 30_000;

/** A carried session as the new VM host's SP gets it. */
export interface CarriedSession {
	sessionId: string;
	vmId: string;
	holderHostId: string;
	/** The VM channel's URL (with its single-use token) for the new host's agent. */
	url: string;
}

/** What the carrier needs of its own service processor. */
export interface CarrierPorts {
	/** This SP's host id. */
	hostId(): string;
	/** Sets the alarm for a new deadline. */
	schedule(deadlineMs: number): Promise<void>;
}

export class SessionCarrier {
	constructor(
		private readonly sql: SqlStorage,
		private readonly sessions: SessionStore,
		private readonly agent: AgentChannel,
		private readonly audit: AuditTrail,
		private readonly env: Env,
		private readonly ports: CarrierPorts,
	) {}

	/**
	 * On the holder: the session's VM side moves to `toHostId`. Input waits
	 * here from now on; returns the VM channel for the new host's agent, or
	 * null when the session is closed. Idempotent (a retry mints a new token).
	 */
	async carry(sessionId: string, toHostId: string): Promise<CarriedSession | null> {
		const minted = await mintChannelToken();
		const row = this.sessions.row(sessionId);
		if (!row || row.state === "closed") return null;
		// A session from before channel origins were kept cannot be dialled again.
		if (row.channel_origin === null) {
			this.sessions.close(sessionId, "vm_migrated");
			return null;
		}
		const deadlineMs = Date.now() + reattachWindowMs;
		this.sessions.markMoving(sessionId, toHostId, deadlineMs);
		// The old host's agent need not dial a session whose VM left it.
		if ((row.vm_host_id ?? this.ports.hostId()) === this.ports.hostId()) {
			this.agent.withdrawSessionOpen(sessionId);
		}
		const { url } = this.sessions.grantChannel(
			sessionId,
			"vm",
			minted,
			row.channel_origin,
			reattachWindowMs,
		);
		this.audit.record("session.vm_moving", {
			sessionId,
			vmId: row.vm_id,
			detail: { vmHostId: toHostId },
		});
		await this.ports.schedule(deadlineMs);
		return { sessionId, vmId: row.vm_id, holderHostId: this.ports.hostId(), url };
	}

	/**
	 * On the VM's old host, as its row is released: carries every open session
	 * of the VM — held here or by another SP — to `toHostId`, and hands them over.
	 */
	async carryAll(vmId: string, toHostId: string): Promise<void> {
		const carried: CarriedSession[] = [];
		for (const row of this.sessions.openForVm(vmId)) {
			const one = await this.carry(row.session_id, toHostId);
			if (one) carried.push(one);
		}
		for (const { session_id, holder_host_id } of this.heldElsewhere(vmId)) {
			const one =
				holder_host_id === this.ports.hostId()
					? null
					: await serviceProcessor(this.env, holder_host_id).carrySession(session_id, toHostId);
			if (one) carried.push(one);
		}
		if (carried.length > 0) await serviceProcessor(this.env, toHostId).takeCarriedSessions(carried);
		this.sql.exec("DELETE FROM carried_sessions WHERE vm_id = ?", vmId);
	}

	/** On the VM's new host: remembers sessions held elsewhere and asks the agent to dial each. */
	take(carried: CarriedSession[]): void {
		for (const session of carried) {
			if (session.holderHostId !== this.ports.hostId()) {
				this.sql.exec(
					"INSERT OR REPLACE INTO carried_sessions (session_id, vm_id, holder_host_id) VALUES (?, ?, ?)",
					session.sessionId,
					session.vmId,
					session.holderHostId,
				);
			}
			this.agent.enqueue(
				{
					type: "session.open",
					sessionId: session.sessionId,
					vmId: session.vmId,
					channel: { url: session.url },
					resume: true,
				},
				session.sessionId,
			);
			this.audit.record("session.vm_moving", {
				sessionId: session.sessionId,
				vmId: session.vmId,
				detail: { heldBy: session.holderHostId, vmHostId: this.ports.hostId() },
			});
		}
	}

	/**
	 * A new VM-channel URL for a `session.open` queued here without its token
	 * (./agent.ts): from this SP for a session it holds, else from the holder
	 * of a session carried here; null when neither knows it any more.
	 */
	async reissueVmChannel(sessionId: string): Promise<string | null> {
		if (this.sessions.row(sessionId)) return this.sessions.regrantVmChannel(sessionId);
		const [carried] = this.sql
			.exec<{ holder_host_id: string }>(
				"SELECT holder_host_id FROM carried_sessions WHERE session_id = ?",
				sessionId,
			)
			.toArray();
		return carried
			? serviceProcessor(this.env, carried.holder_host_id).regrantVmChannel(sessionId)
			: null;
	}

	/** Rotation or removal here: the sessions other SPs hold for the VM close too. */
	async closeHeldElsewhere(vmId: string, reason: string): Promise<void> {
		for (const { session_id, holder_host_id } of this.heldElsewhere(vmId)) {
			await serviceProcessor(this.env, holder_host_id).closeSession(session_id, reason);
		}
		this.sql.exec("DELETE FROM carried_sessions WHERE vm_id = ?", vmId);
	}

	private heldElsewhere(vmId: string) {
		return this.sql
			.exec<{ session_id: string; holder_host_id: string }>(
				"SELECT session_id, holder_host_id FROM carried_sessions WHERE vm_id = ?",
				vmId,
			)
			.toArray();
	}
}
