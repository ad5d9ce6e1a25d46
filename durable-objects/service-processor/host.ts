import { digestsEqual } from "../../shared/crypto";
import type { HostDescription } from "../../shared/host";
import type { JsonLeaf } from "../../shared/json";
import { hashSecret, newAgentToken, newWebhookSecret } from "../../shared/keys";
import { Problem } from "../../shared/problem";
import type { HostInput } from "../../shared/schemas/hosts";

/** A fact's value (bounded depth, see ../../shared/json.ts). */
export type FactValue = JsonLeaf;

/** A host and its latest facts, as rules and routes see it. */
export interface HostRecord extends HostDescription {
	facts: { memoryFreeMiB?: number; [fact: string]: FactValue | undefined };
	createdAt: string;
	updatedAt: string;
}

/** Facts a `host.facts` webhook may carry. */
export interface HostFacts {
	cpu?: { model: string; flags: string[] };
	memoryMiB?: number;
	memoryFreeMiB?: number;
	hypervisor?: { name: string; version: string };
	[fact: string]: FactValue | undefined;
}

/** Result of `configureHost`: secrets only on creation. */
export type HostConfigured =
	| { created: true; host: HostRecord; agentToken: string; webhookSecret: string }
	| { created: false; host: HostRecord; previousDomain: string };

type HostRow = {
	host_id: string;
	domain: string;
	site: string;
	cpu: string;
	memory_mib: number;
	hypervisor: string;
	facts: string;
	agent_token_hash: string;
	webhook_secret: string;
	created_at: string;
	updated_at: string;
};

function toRecord(row: HostRow): HostRecord {
	return {
		hostId: row.host_id,
		domain: row.domain,
		site: row.site,
		cpu: JSON.parse(row.cpu),
		memoryMiB: row.memory_mib,
		hypervisor: JSON.parse(row.hypervisor),
		facts: JSON.parse(row.facts),
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
}

/** The single host row of a service processor, with its secrets. */
export class HostStore {
	constructor(
		private readonly storage: DurableObjectStorage,
		/** False until the first host write created the schema: then there is no host. */
		private readonly schemaReady: () => boolean,
	) {}

	/**
	 * The row and its parsed record as last read. This object is the row's
	 * only writer, so the copy is dropped on each write and never goes stale;
	 * every broadcast request reads the host, and parsing it each time showed.
	 */
	private cached: { row: HostRow; record: HostRecord } | undefined;

	private row(): HostRow | undefined {
		if (this.cached) return this.cached.row;
		if (!this.schemaReady()) return undefined;
		const row = this.storage.sql.exec<HostRow>("SELECT * FROM host").toArray()[0];
		if (row) this.cached = { row, record: Object.freeze(toRecord(row)) };
		return row;
	}

	/** The host (shared and frozen: do not modify), or null before it is created. */
	get(): HostRecord | null {
		this.row();
		return this.cached?.record ?? null;
	}

	/** The host, or `404 host_not_found`. */
	require(): HostRecord {
		const host = this.get();
		if (!host) throw new Problem("host_not_found", "no such host");
		return host;
	}

	/**
	 * Creates or updates the host. Creation mints the agent token (stored as a
	 * hash) and the webhook secret (kept, HMAC needs it). Synchronous, so a
	 * concurrent PUT can never create twice.
	 */
	async configure(hostId: string, input: HostInput): Promise<HostConfigured> {
		// Minted before the existence check: after this await the check and the write
		// run without yielding, which is what makes creation happen once.
		const agentToken = newAgentToken();
		const webhookSecret = newWebhookSecret();
		const agentTokenHash = await hashSecret(agentToken);
		const now = new Date().toISOString();
		const existing = this.row();
		this.cached = undefined;
		if (existing) {
			this.storage.sql.exec(
				`UPDATE host SET domain = ?, site = ?, cpu = ?, memory_mib = ?, hypervisor = ?, updated_at = ?`,
				input.domain,
				input.site,
				JSON.stringify(input.cpu),
				input.memoryMiB,
				JSON.stringify(input.hypervisor),
				now,
			);
			return { created: false, host: this.require(), previousDomain: existing.domain };
		}
		this.storage.sql.exec(
			`INSERT INTO host (singleton, host_id, domain, site, cpu, memory_mib, hypervisor, agent_token_hash, webhook_secret, created_at, updated_at)
			 VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			hostId,
			input.domain,
			input.site,
			JSON.stringify(input.cpu),
			input.memoryMiB,
			JSON.stringify(input.hypervisor),
			agentTokenHash,
			webhookSecret,
			now,
			now,
		);
		return { created: true, host: this.require(), agentToken, webhookSecret };
	}

	/** Applies a `host.facts` report: attributes it names replace ours, the rest merge into facts. */
	recordFacts(facts: HostFacts): void {
		const row = this.row();
		if (!row) throw new Problem("host_not_found", "no such host");
		const { cpu, memoryMiB, hypervisor } = facts;
		this.cached = undefined;
		this.storage.sql.exec(
			"UPDATE host SET cpu = ?, memory_mib = ?, hypervisor = ?, facts = ?, updated_at = ?",
			cpu ? JSON.stringify(cpu) : row.cpu,
			memoryMiB ?? row.memory_mib,
			hypervisor ? JSON.stringify(hypervisor) : row.hypervisor,
			JSON.stringify({ ...JSON.parse(row.facts), ...facts }),
			new Date().toISOString(),
		);
	}

	/** Constant-time check of an agent bearer token against the stored hash. */
	async verifyAgentToken(token: string): Promise<boolean> {
		const row = this.row();
		if (!row) return false;
		return digestsEqual(await hashSecret(token), row.agent_token_hash);
	}

	/** The webhook secret, for HMAC verification only. */
	webhookSecret(): string {
		const row = this.row();
		if (!row) throw new Problem("host_not_found", "no such host");
		return row.webhook_secret;
	}
}
