import { DurableObject } from "cloudflare:workers";
import type { MigrationPolicy } from "../shared/schemas/migrations";
import {
	countTargetFailures,
	migrationDataSchema,
	readPolicy,
	recordOutcome,
	writePolicy,
} from "./fleet/migration-data";
import { migrateSchema } from "./sql";

/** A host as the fleet directory lists it. */
export interface HostDirectoryEntry {
	hostId: string;
	domain: string;
	site: string;
}

const schema = [
	`CREATE TABLE hosts (host_id TEXT PRIMARY KEY, domain TEXT NOT NULL, site TEXT NOT NULL, created_at INTEGER NOT NULL);
	 CREATE INDEX hosts_by_domain ON hosts (domain, created_at);
	 CREATE TABLE migrations (migration_id TEXT PRIMARY KEY, vm_id TEXT NOT NULL);`,
];

type HostRow = { host_id: string; domain: string; site: string };

/**
 * The fleet-wide directory, one instance (`idFromName("fleet")`): which hosts
 * exist (for listing without a domain) and which VM owns each migration id
 * (so webhooks and `GET /v1/migrations/{id}` reach the right VirtualMachine).
 * It holds no secrets and no per-VM state.
 */
export class Fleet extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		migrateSchema(ctx.storage, schema);
		migrateSchema(ctx.storage, migrationDataSchema, "migration_data_schema_version");
	}

	/** Records a host, or its new domain or site. */
	async upsertHost(entry: HostDirectoryEntry): Promise<void> {
		this.ctx.storage.sql.exec(
			`INSERT INTO hosts (host_id, domain, site, created_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (host_id) DO UPDATE SET domain = excluded.domain, site = excluded.site`,
			entry.hostId,
			entry.domain,
			entry.site,
			Date.now(),
		);
	}

	/** Hosts, optionally of one domain, newest first. */
	async listHosts(domain?: string): Promise<HostDirectoryEntry[]> {
		const sql = this.ctx.storage.sql;
		const rows =
			domain === undefined
				? sql.exec<HostRow>(
						"SELECT host_id, domain, site FROM hosts ORDER BY created_at DESC, host_id",
					)
				: sql.exec<HostRow>(
						"SELECT host_id, domain, site FROM hosts WHERE domain = ? ORDER BY created_at DESC, host_id",
						domain,
					);
		return rows
			.toArray()
			.map((row) => ({ hostId: row.host_id, domain: row.domain, site: row.site }));
	}

	/** Remembers which VM a migration belongs to (idempotent). */
	async indexMigration(migrationId: string, vmId: string): Promise<void> {
		this.ctx.storage.sql.exec(
			"INSERT INTO migrations (migration_id, vm_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
			migrationId,
			vmId,
		);
	}

	/** The VM id a migration belongs to, or null for an unknown id. */
	async findMigration(migrationId: string): Promise<string | null> {
		const [row] = this.ctx.storage.sql
			.exec<{ vm_id: string }>("SELECT vm_id FROM migrations WHERE migration_id = ?", migrationId)
			.toArray();
		return row?.vm_id ?? null;
	}

	// ── Migration data (team migration; see fleet/migration-data.ts) ──

	/** The migration policy in force (the default until one is stored). */
	async getPolicy(): Promise<MigrationPolicy> {
		return readPolicy(this.ctx.storage.sql);
	}

	/** Stores a policy the caller has compiled and type-checked; returns it. */
	async putPolicy(policy: MigrationPolicy): Promise<MigrationPolicy> {
		writePolicy(this.ctx.storage.sql, policy, new Date());
		return policy;
	}

	/** Records how a migration onto a host ended (read back as `history.targetFailures`). */
	async recordMigrationOutcome(outcome: {
		migrationId: string;
		targetHostId: string;
		failed: boolean;
		finishedAtMs: number;
	}): Promise<void> {
		recordOutcome(this.ctx.storage.sql, outcome);
	}

	/** Failed migrations onto a host since `sinceMs`. */
	async countTargetFailures(targetHostId: string, sinceMs: number): Promise<number> {
		return countTargetFailures(this.ctx.storage.sql, targetHostId, sinceMs);
	}
}
