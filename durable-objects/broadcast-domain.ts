import { DurableObject } from "cloudflare:workers";
import { Problem, unlessProblem } from "../shared/problem";
import { type Answer, answer } from "./refusals";
import { SeenJtis, seenJtisPerVm } from "./seen-jtis";
import type { BroadcastRoute, SessionOpened, SessionRequest } from "./service-processor";
import { hasSchema, migrateSchema } from "./sql";
import { serviceProcessor, virtualMachine } from "./stubs";

function vmNotFound(): Problem {
	return new Problem("vm_not_found", "no service processor in the domain holds this VM");
}

const schema = [
	`CREATE TABLE members (host_id TEXT PRIMARY KEY, joined_at TEXT NOT NULL);
	 CREATE TABLE seen_jtis (jti TEXT PRIMARY KEY, exp_seconds INTEGER NOT NULL);
	 CREATE INDEX seen_jtis_by_exp ON seen_jtis (exp_seconds);`,
	// Which member holds each VM: announced by the members, learned from answers.
	`CREATE TABLE holders (vm_id TEXT PRIMARY KEY, host_id TEXT NOT NULL);
	 CREATE INDEX holders_by_host ON holders (host_id);`,
	"ALTER TABLE seen_jtis ADD COLUMN vm_id TEXT;",
	seenJtisPerVm,
];

/**
 * One broadcast domain: which service processors receive its broadcasts,
 * which member holds each VM (its forwarding table), and the `jti`s of
 * requests already seen, per VM (refused as replays until their `exp`).
 */
export class BroadcastDomain extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		// A domain nobody joined writes nothing: POST /v1/sessions is public, and a
		// request naming an unknown domain must not create storage for it.
		if (hasSchema(ctx.storage)) this.prepareSchema();
	}

	private schemaReady = false;
	private readonly seenJtis = new SeenJtis(this.ctx.storage.sql);

	private prepareSchema(): void {
		migrateSchema(this.ctx.storage, schema);
		this.schemaReady = true;
	}

	/**
	 * Makes the host's SP a receiver of this domain's broadcasts and records
	 * the VMs its table holds; idempotent.
	 */
	async join(hostId: string, vmIds: string[] = []): Promise<void> {
		if (!this.schemaReady) this.prepareSchema();
		this.ctx.storage.sql.exec(
			"INSERT INTO members (host_id, joined_at) VALUES (?, ?) ON CONFLICT (host_id) DO NOTHING",
			hostId,
			new Date().toISOString(),
		);
		for (const vmId of vmIds) this.setHolder(vmId, hostId);
	}

	/** Removes the host's SP from this domain, with the VMs it announced; idempotent. */
	async leave(hostId: string): Promise<void> {
		if (!this.schemaReady) return;
		this.ctx.storage.sql.exec("DELETE FROM members WHERE host_id = ?", hostId);
		this.ctx.storage.sql.exec("DELETE FROM holders WHERE host_id = ?", hostId);
	}

	/**
	 * A member announces a VM its table now holds (like a gratuitous ARP), so
	 * the first request for it goes there without asking the VM's placement.
	 * Ignored from a non-member.
	 */
	async announce(hostId: string, vmId: string): Promise<void> {
		if (!this.schemaReady || !this.isMember(hostId)) return;
		this.setHolder(vmId, hostId);
	}

	/** A member withdraws a VM it no longer holds; an entry naming another member stays. */
	async withdraw(hostId: string, vmId: string): Promise<void> {
		if (!this.schemaReady) return;
		this.forgetHolder(vmId, hostId);
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
	 * Refuses a replayed jti, then delivers the request to the one member that
	 * holds the VM, asking as few as it can:
	 * 1. the member its forwarding table names (like a learning switch);
	 * 2. else the VM object's placement: no placement means no SP table holds
	 *    the id (a row is only inserted after its placement is claimed, and a
	 *    removal releases it just before deleting the row), so an unknown VM is
	 *    refused without asking any member; a placement on a host outside the
	 *    domain is refused too (the VM lives elsewhere, even while a source
	 *    here still holds a row it is handing off); a member it names is asked;
	 * 3. only if that member refuses (the placement moved meanwhile), every
	 *    member is asked — the flood.
	 * A member that no longer holds the VM (removed, moved, or mid-handoff, see
	 * `ServiceProcessor.openSession`) refuses and the next step runs.
	 */
	async openSession(request: SessionRequest): Answer<SessionOpened> {
		return answer(async () => {
			if (!this.schemaReady) throw vmNotFound();
			const known = this.holderOf(request.vmId);
			const placement = known ? undefined : await this.placementInDomain(request.vmId);
			if (!known && !placement) throw vmNotFound();
			// Remembered only for a VM a member holds or is placed on: a stranger's
			// made-up VM ids are refused above and cost the domain no storage.
			this.seenJtis.remember(request.jti, request.expSeconds, request.vmId);
			if (known) {
				const opened = await this.tryMember(known, request, "learned");
				if (opened) return opened;
				this.forgetHolder(request.vmId, known);
			}
			const placedOn = (placement ?? (await this.placementInDomain(request.vmId)))?.hostId;
			if (!placedOn) throw vmNotFound();
			const placed = await this.tryMember(placedOn, request, "placed");
			if (placed) {
				this.setHolder(request.vmId, placedOn);
				return placed;
			}
			const holder = await this.#findHolder(request.vmId, request.domain);
			this.setHolder(request.vmId, holder);
			return this.serviceProcessor(holder).openSession(request, "flooded");
		});
	}

	/** The VM's placement if it names a member, else null. */
	private async placementInDomain(vmId: string): Promise<{ hostId: string } | null> {
		const placement = await virtualMachine(this.env, vmId).getPlacement();
		return placement && this.isMember(placement.hostId) ? placement : null;
	}

	/** The member's answer, or null when it does not hold the VM. */
	private tryMember(
		hostId: string,
		request: SessionRequest,
		route: BroadcastRoute,
	): Promise<SessionOpened | null> {
		return unlessProblem("vm_not_found", this.serviceProcessor(hostId).openSession(request, route));
	}

	private isMember(hostId: string): boolean {
		return (
			this.ctx.storage.sql.exec("SELECT 1 FROM members WHERE host_id = ?", hostId).toArray()
				.length > 0
		);
	}

	private holderOf(vmId: string): string | undefined {
		const [row] = this.ctx.storage.sql
			.exec<{ host_id: string }>("SELECT host_id FROM holders WHERE vm_id = ?", vmId)
			.toArray();
		return row?.host_id;
	}

	private setHolder(vmId: string, hostId: string): void {
		this.ctx.storage.sql.exec(
			"INSERT INTO holders (vm_id, host_id) VALUES (?, ?) ON CONFLICT (vm_id) DO UPDATE SET host_id = excluded.host_id",
			vmId,
			hostId,
		);
	}

	private forgetHolder(vmId: string, hostId: string): void {
		this.ctx.storage.sql.exec("DELETE FROM holders WHERE vm_id = ? AND host_id = ?", vmId, hostId);
	}

	async #findHolder(vmId: string, domain: string): Promise<string> {
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
