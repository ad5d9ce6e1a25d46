import { DurableObject } from "cloudflare:workers";
import type { MigrationPolicy } from "../shared/schemas/migrations";
import { migrationDataSchema, readPolicy, writePolicy } from "./fleet/migration-data";
import { forgetCachedPolicy } from "./fleet/policy-cache";
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
 * The fleet-wide singleton (`idFromName("fleet")`), for rare admin reads and
 * the policy only: which hosts exist (for listing without a domain), the
 * migration policy in force (read through ./fleet/policy-cache.ts), and the
 * owning VM of migration ids minted before ids named their VM (new ids need
 * no lookup). It holds no secrets and no per-VM state.
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

	/** The VM of a migration id minted before ids named their VM, or null. */
	async findMigration(migrationId: string): Promise<string | null> {
		const [row] = this.ctx.storage.sql
			.exec<{ vm_id: string }>("SELECT vm_id FROM migrations WHERE migration_id = ?", migrationId)
			.toArray();
		return row?.vm_id ?? null;
	}

	/** The migration policy in force (the default until one is stored). */
	async getPolicy(): Promise<MigrationPolicy> {
		return readPolicy(this.ctx.storage.sql);
	}

	/** Stores a policy the caller has compiled and type-checked; returns it. */
	async putPolicy(policy: MigrationPolicy): Promise<MigrationPolicy> {
		writePolicy(this.ctx.storage.sql, policy, new Date());
		forgetCachedPolicy();
		return policy;
	}
}
