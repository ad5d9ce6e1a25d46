import { DurableObject } from "cloudflare:workers";
import { BoundedMap } from "../shared/bounded-map";
import { asProblem, Problem } from "../shared/problem";
import type { SessionOpened, SessionRequest } from "./service-processor";
import { migrateSchema } from "./sql";
import { serviceProcessor, virtualMachine } from "./stubs";

const schemaVersionKey = "schema_version";
/** Learned VM → member entries kept per domain (a few hundred KiB at most). */
const maxLearnedHolders = 10_000;
/** How often expired jtis are deleted. */
const jtiSweepIntervalMs = 10_000;

function vmNotFound(): Problem {
	return new Problem("vm_not_found", "no service processor in the domain holds this VM");
}

const schema = [
	`CREATE TABLE members (host_id TEXT PRIMARY KEY, joined_at TEXT NOT NULL);
	 CREATE TABLE seen_jtis (jti TEXT PRIMARY KEY, exp_seconds INTEGER NOT NULL);
	 CREATE INDEX seen_jtis_by_exp ON seen_jtis (exp_seconds);`,
];

/** A broadcast session request as the Worker hands it to the domain. */
export interface BroadcastRequest extends SessionRequest {
	/** The request's `exp` (seconds since the epoch): its jti is refused until then. */
	expSeconds: number;
}

/**
 * One broadcast domain: which service processors receive its broadcasts,
 * which member last answered for each VM (in memory), and the `jti`s of
 * requests already seen (refused as replays until their `exp`).
 */
export class BroadcastDomain extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		// A domain nobody joined writes nothing: POST /v1/sessions is public, and a
		// request naming an unknown domain must not create storage for it.
		if (ctx.storage.kv.get(schemaVersionKey) !== undefined) this.prepareSchema();
	}

	private schemaReady = false;

	/**
	 * VM id → the member that last answered for it. Memory only: an evicted
	 * domain relearns by flooding. Bounded; the oldest entry goes first.
	 */
	private readonly learnedHolders = new BoundedMap<string, string>(maxLearnedHolders);
	private lastJtiSweepMs = 0;

	private prepareSchema(): void {
		migrateSchema(this.ctx.storage, schema, schemaVersionKey);
		this.schemaReady = true;
	}

	/** Makes the host's SP a receiver of this domain's broadcasts; idempotent. */
	async join(hostId: string): Promise<void> {
		if (!this.schemaReady) this.prepareSchema();
		this.ctx.storage.sql.exec(
			"INSERT INTO members (host_id, joined_at) VALUES (?, ?) ON CONFLICT (host_id) DO NOTHING",
			hostId,
			new Date().toISOString(),
		);
	}

	/** Removes the host's SP from this domain; idempotent. */
	async leave(hostId: string): Promise<void> {
		if (!this.schemaReady) return;
		this.ctx.storage.sql.exec("DELETE FROM members WHERE host_id = ?", hostId);
	}

	/** Host ids of the members. */
	async members(): Promise<string[]> {
		if (!this.schemaReady) return [];
		return this.ctx.storage.sql
			.exec<{ host_id: string }>("SELECT host_id FROM members ORDER BY host_id")
			.toArray()
			.map((row) => row.host_id);
	}

	/**
	 * Refuses a replayed jti, then delivers the request. Like a learning switch,
	 * the domain floods a VM id it has not seen answered to every member and
	 * learns which one answered; later requests for that VM go to that member
	 * alone. A learned member that no longer holds the VM (removed, moved, or
	 * mid-handoff, see `ServiceProcessor.openSession`) refuses, and the request
	 * is flooded as if never learned — so the answer is always the one a flood
	 * would give.
	 */
	async openSession(request: BroadcastRequest): Promise<SessionOpened> {
		if (!this.schemaReady) throw vmNotFound();
		this.rememberJti(request.jti, request.expSeconds);
		const { expSeconds: _expSeconds, ...sessionRequest } = request;
		const learned = this.learnedHolders.get(request.vmId);
		if (learned) {
			try {
				return await this.serviceProcessor(learned).openSession(sessionRequest, "learned");
			} catch (error) {
				if (asProblem(error)?.code !== "vm_not_found") throw error;
				this.learnedHolders.delete(request.vmId);
			}
		}
		const holder = await this.findHolder(request.vmId, request.domain);
		this.learnedHolders.set(request.vmId, holder);
		return this.serviceProcessor(holder).openSession(sessionRequest, "flooded");
	}

	private rememberJti(jti: string, expSeconds: number): void {
		const sql = this.ctx.storage.sql;
		const nowMs = Date.now();
		// Expired jtis only take space; sweeping them now and then is enough.
		if (nowMs - this.lastJtiSweepMs >= jtiSweepIntervalMs) {
			sql.exec("DELETE FROM seen_jtis WHERE exp_seconds < ?", Math.floor(nowMs / 1000));
			this.lastJtiSweepMs = nowMs;
		}
		// A jti seen before counts only while its exp has not passed, swept or not.
		const inserted = sql.exec(
			`INSERT INTO seen_jtis (jti, exp_seconds) VALUES (?, ?)
			 ON CONFLICT (jti) DO UPDATE SET exp_seconds = excluded.exp_seconds
			 WHERE seen_jtis.exp_seconds < ?`,
			jti,
			expSeconds,
			Math.floor(nowMs / 1000),
		).rowsWritten;
		if (inserted === 0)
			throw new Problem("replayed_request", "this request's jti was already seen");
	}

	private async findHolder(vmId: string, domain: string): Promise<string> {
		const members = await this.members();
		const answers = await Promise.allSettled(
			members.map((hostId) => this.serviceProcessor(hostId).holdsVm(vmId, domain)),
		);
		const holders = members.filter((_, index) => {
			const answer = answers[index];
			return answer?.status === "fulfilled" && answer.value;
		});
		const [only] = holders;
		if (holders.length === 1 && only) return only;
		if (holders.length > 1) {
			// Mid-handoff both SPs hold the row; the VM object's placement decides.
			const placement = await virtualMachine(this.env, vmId).getPlacement();
			if (placement && holders.includes(placement.hostId)) return placement.hostId;
		}
		if (holders.length === 0 && answers.some((answer) => answer.status === "rejected")) {
			throw new Problem("internal", "some service processors of the domain did not answer");
		}
		throw vmNotFound();
	}

	private serviceProcessor(hostId: string) {
		return serviceProcessor(this.env, hostId);
	}
}
