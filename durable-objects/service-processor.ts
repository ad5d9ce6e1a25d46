import { DurableObject } from "cloudflare:workers";
import { Problem } from "../shared/problem";
import type { HostInput } from "../shared/schemas/hosts";
import type { VmInput } from "../shared/schemas/vms";
import { type Answer, answer } from "./refusals";
import {
	type BroadcastRoute,
	openSession,
	type SessionOpened,
	type SessionRequest,
} from "./service-processor/access";
import type { AgentCommandInput } from "./service-processor/agent";
import type { AuditEvent } from "./service-processor/audit";
import type { CarriedSession } from "./service-processor/carry";
import type { HostConfigured, HostFacts, HostRecord } from "./service-processor/host";
import { countFailures, recordOutcome } from "./service-processor/migration-outcomes";
import { type ServiceProcessorParts, wireParts } from "./service-processor/parts";
import type { RecordingRead } from "./service-processor/recordings";
import { migrateServiceProcessor } from "./service-processor/schema";
import {
	type ChannelGrant,
	type SessionRecord,
	userTokenTtlMs,
} from "./service-processor/session-record";
import { toVmView, type VmView } from "./service-processor/table";
import { acceptUpgrade } from "./service-processor/upgrades";
import type { VmEnrolment, VmHandoff } from "./service-processor/vm-registry";
import { forgetWebhook, type VerifiedWebhook, verifyWebhook } from "./service-processor/webhooks";
import { hasSchema } from "./sql";

export type { BroadcastRoute, SessionOpened, SessionRequest } from "./service-processor/access";
export type { AgentCommandInput } from "./service-processor/agent";
export type { HostFacts, HostRecord } from "./service-processor/host";
export type { RecordingRead } from "./service-processor/recordings";
export type { ChannelGrant, SessionRecord } from "./service-processor/session-record";
export type { VmRow, VmView } from "./service-processor/table";
export type { VmEnrolment, VmHandoff } from "./service-processor/vm-registry";

/**
 * One host's service processor: its host record, the SP table of VMs with
 * their key hashes, the console sessions it relays (with their read-only
 * viewers and asciicast recordings), the host agent's control channel with
 * its command queue, seen webhook ids and the audit trail.
 */
export class ServiceProcessor extends DurableObject<Env> {
	readonly #parts: ServiceProcessorParts;
	private schemaReady = false;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.#parts = wireParts(ctx, env, {
			schemaReady: () => this.schemaReady,
			recordings: () => this.env.RECORDINGS,
		});
		// An object that never held a host writes nothing: public routes (agent and
		// channel upgrades) may name any host id, and must not create storage for it.
		if (hasSchema(ctx.storage)) {
			this.prepareSchema();
			// After an eviction that closed the sockets, no session may stay open silently.
			this.#parts.sessions.closeOrphaned();
			// A constructor cannot await a put: the alarm stores what closed here.
			if (this.#parts.recorder.hasNewlyFinished())
				ctx.blockConcurrencyWhile(() => this.#parts.upkeep.alarm.schedule());
		}
	}

	private prepareSchema(): void {
		migrateServiceProcessor(this.ctx.storage);
		this.schemaReady = true;
	}

	// ---- Hosts -------------------------------------------------------------

	/** Creates or updates the host, then brings the Fleet directory and domain membership in step. */
	async configureHost(
		hostId: string,
		input: HostInput,
	): Answer<HostConfigured & { agentConnected: boolean }> {
		return answer(async () => {
			if (!this.schemaReady) this.prepareSchema();
			const result = await this.#parts.hosts.configure(hostId, input);
			this.#parts.directory.queueFor(
				input.domain,
				result.created ? undefined : result.previousDomain,
			);
			await this.#parts.upkeep.syncDirectory();
			return { ...result, agentConnected: this.#parts.agent.isConnected() };
		});
	}

	/** The host record with its latest facts, or null before it is created. */
	async getHost(): Promise<HostRecord | null> {
		return this.#parts.hosts.get();
	}

	/** Constant-time check of the agent's bearer token. */
	async verifyAgentToken(token: string): Promise<boolean> {
		return this.#parts.hosts.verifyAgentToken(token);
	}

	/** Applies a `host.facts` webhook. */
	async recordFacts(facts: HostFacts): Answer<void> {
		return answer(() => this.#parts.hosts.recordFacts(facts));
	}

	/** Standard Webhooks verification with this host's secret; records the webhook id. */
	async verifyWebhook(headers: Record<string, string>, rawBody: string): Answer<VerifiedWebhook> {
		return answer(() =>
			verifyWebhook(this.ctx.storage.sql, this.#parts.hosts.webhookSecret(), headers, rawBody),
		);
	}

	/** Forgets a `webhook-id` whose event could not be applied, so a retry applies it. */
	async forgetWebhook(webhookId: string): Promise<void> {
		forgetWebhook(this.ctx.storage.sql, webhookId);
	}

	// ---- The SP table ------------------------------------------------------

	/** Enrols a VM (claiming its id fleet-wide, minting its key) or updates its attributes. */
	async enrollVm(vmId: string, input: VmInput): Answer<VmEnrolment> {
		return answer(() => this.#parts.vms.enroll(vmId, input));
	}

	/** Mints a new key; the old one stops at once and sessions opened with it close. */
	async rotateVmKey(vmId: string): Answer<{ keyVersion: number; key: string }> {
		return answer(() => this.#parts.vms.rotateKey(vmId));
	}

	/** Ends the VM's key lockouts for every address (admin); `vm_not_found` without the VM. */
	async clearVmLockouts(vmId: string): Answer<void> {
		return answer(() => this.#parts.vms.clearLockouts(vmId));
	}

	/** Removes a VM: its placement is released, its sessions closed. */
	async removeVm(vmId: string): Answer<void> {
		return answer(() => this.#parts.vms.remove(vmId));
	}

	/** The SP table without keys or hashes. */
	async listVms(): Answer<VmView[]> {
		return answer(() => this.#parts.vms.list());
	}

	/** One SP-table row without its hash, or null (read only, unlike `exportVm`). */
	async getVm(vmId: string): Promise<VmView | null> {
		if (!this.schemaReady) return null;
		const row = this.#parts.table.get(vmId);
		return row ? toVmView(row) : null;
	}

	/**
	 * Handoff: the row as stored, for the migration target to adopt. From here
	 * until the release, this SP answers for the VM only when the domain chose
	 * it by placement, never as a learned holder or straight from the edge.
	 */
	async exportVm(vmId: string): Answer<VmHandoff | null> {
		return answer(() => this.#parts.vms.export(vmId));
	}

	/** Handoff: inserts the row as-is (same key hash and version); idempotent. */
	async adoptVm(row: VmHandoff): Answer<void> {
		return answer(() => this.#parts.vms.adopt(row));
	}

	/**
	 * Handoff: deletes the row; its console sessions are carried to the VM's
	 * new host `carryTo`, or closed with `reason` without one. Idempotent.
	 */
	async releaseVm(vmId: string, reason: string, carryTo?: string): Answer<void> {
		return answer(() => this.#parts.vms.release(vmId, reason, carryTo));
	}

	/** As a session's holder: its VM side moves to `toHostId` (./service-processor/carry.ts). */
	async carrySession(sessionId: string, toHostId: string): Answer<CarriedSession | null> {
		return answer(() => {
			if (!this.schemaReady) return null;
			return this.#parts.carrier.carry(sessionId, toHostId);
		});
	}

	/** As the VM's new host: its agent dials the carried sessions' VM sides. */
	async takeCarriedSessions(sessions: CarriedSession[]): Answer<void> {
		return answer(() => {
			this.#parts.hosts.require();
			this.#parts.carrier.take(sessions);
		});
	}

	/** As a session's holder: a new VM-channel URL for the VM's host's agent (./service-processor/agent.ts). */
	async regrantVmChannel(sessionId: string): Answer<string | null> {
		return answer(() => {
			if (!this.schemaReady) return null;
			return this.#parts.sessions.regrantVmChannel(sessionId);
		});
	}

	/** As a session's holder: closes it with `reason` (rotation or removal on the VM's host). */
	async closeSession(sessionId: string, reason: string): Answer<void> {
		return answer(async () => {
			if (!this.schemaReady) return;
			this.#parts.sessions.close(sessionId, reason);
			await this.#parts.upkeep.storeRecordings();
		});
	}

	// ---- Sessions ----------------------------------------------------------

	/** Broadcast phase 1: whether this SP, as a member of `domain`, holds the VM id. */
	async holdsVm(vmId: string, domain: string): Promise<boolean> {
		const host = this.#parts.hosts.get();
		return host?.domain === domain && this.#parts.table.get(vmId) !== undefined;
	}

	/**
	 * Broadcast phase 2: refuses a replayed jti, secures the user side, checks
	 * the key, asks the agent for the VM side. `route` says how the request
	 * came (see `BroadcastRoute`).
	 */
	async openSession(request: SessionRequest, route: BroadcastRoute): Answer<SessionOpened> {
		return answer(async () => {
			const opened = await openSession(this.#parts.access, request, route);
			const { idleMs, maxMs } = this.#parts.sessionLimits;
			// The new session's first deadline: its user token's expiry, unless a limit is shorter.
			await this.#parts.upkeep.alarm.schedule(Date.now() + Math.min(userTokenTtlMs, idleMs, maxMs));
			return opened;
		});
	}

	/** A session record, or null. */
	async getSession(sessionId: string): Promise<SessionRecord | null> {
		if (!this.schemaReady) return null;
		return this.#parts.sessions.get(sessionId);
	}

	/** Every session of this SP, newest first. */
	async listSessions(): Answer<SessionRecord[]> {
		return answer(() => {
			this.#parts.hosts.require();
			return this.#parts.sessions.list();
		});
	}

	/** Closes both sockets with `terminated`; false when there is no such session. */
	async terminateSession(sessionId: string): Answer<boolean> {
		return answer(async () => {
			if (!this.schemaReady || !this.#parts.sessions.row(sessionId)) return false;
			this.#parts.sessions.close(sessionId, "terminated");
			await this.#parts.upkeep.storeRecordings();
			return true;
		});
	}

	/**
	 * Hands out a single-use read-only viewer channel of a live session;
	 * throws `not_found` for an unknown session, `session_closed` for a closed one.
	 */
	async openViewer(sessionId: string, channelOrigin: string): Answer<ChannelGrant> {
		return answer(() => {
			if (!this.schemaReady) throw new Problem("not_found", "no such session");
			return this.#parts.sessions.openViewer(sessionId, channelOrigin);
		});
	}

	/** A session's recording: its text while in SQLite, or `stored` when it is in R2; null without one. */
	async readRecording(sessionId: string): Answer<RecordingRead | null> {
		return answer(() => {
			if (!this.schemaReady) return null;
			return this.#parts.recorder.read(sessionId);
		});
	}

	/** The audit trail, newest first. */
	async listAudit(limit: number): Answer<AuditEvent[]> {
		return answer(() => {
			this.#parts.hosts.require();
			return this.#parts.audit.list(limit);
		});
	}

	// ---- Migrations onto this host ------------------------------------------

	/** Records how a migration onto this host ended (idempotent per migration). */
	async recordMigrationOutcome(outcome: {
		migrationId: string;
		failed: boolean;
		finishedAtMs: number;
	}): Answer<void> {
		return answer(() => {
			this.#parts.hosts.require();
			recordOutcome(this.ctx.storage.sql, outcome);
		});
	}

	/** Failed migrations onto this host since `sinceMs` (`history.targetFailures`). */
	async countMigrationFailures(sinceMs: number): Promise<number> {
		return this.schemaReady ? countFailures(this.ctx.storage.sql, sinceMs) : 0;
	}

	// ---- Agent channel -----------------------------------------------------

	/** Queues a command for the host agent (at-least-once, acked by id); returns its id. */
	async enqueueAgentCommand(command: AgentCommandInput): Answer<string> {
		return answer(() => {
			this.#parts.hosts.require();
			return this.#parts.agent.enqueue(command);
		});
	}

	/** Ids of agent commands not yet acknowledged, oldest first. */
	async unackedAgentCommands(): Promise<string[]> {
		if (!this.schemaReady) return [];
		return this.#parts.agent.unacked();
	}

	// ---- WebSockets (hibernation API) --------------------------------------

	/** WebSocket upgrades only: the agent channel and the two sides of a session. */
	override async fetch(request: Request): Promise<Response> {
		return acceptUpgrade(request, {
			hosts: this.#parts.hosts,
			sessions: this.#parts.sessions,
			agent: this.#parts.agent,
			relay: this.#parts.relay,
			reissueVmChannel: (sessionId) => this.#parts.carrier.reissueVmChannel(sessionId),
		});
	}

	override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
		this.#parts.sockets.message(socket, message);
		// A relayed frame can close its session (buffer overflow); checked in memory.
		if (this.#parts.recorder.hasNewlyFinished()) await this.#parts.upkeep.storeRecordings();
	}

	override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
		this.#parts.sockets.gone(socket);
		await this.#parts.upkeep.storeRecordings();
		try {
			socket.close(code === 1005 || code === 1006 ? 1000 : code, reason);
		} catch {
			// Already closed from our side.
		}
	}

	override async webSocketError(socket: WebSocket): Promise<void> {
		this.#parts.sockets.gone(socket);
		await this.#parts.upkeep.storeRecordings();
	}

	// ---- Alarm: timeouts, recording puts and directory retries -------------

	override async alarm(): Promise<void> {
		await this.#parts.upkeep.onAlarm(this.schemaReady);
	}

	/** The host as the API shows it: its record and whether its agent is connected now; null before it exists. */
	async describeHost(): Promise<(HostRecord & { agentConnected: boolean }) | null> {
		const host = this.#parts.hosts.get();
		return host && { ...host, agentConnected: this.#parts.agent.isConnected() };
	}
}
