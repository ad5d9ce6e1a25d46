import { DurableObject } from "cloudflare:workers";
import type { MigrationPolicy } from "../shared/schemas/migrations";
import {
	countTargetFailures,
	ensureMigrationTables,
	readPolicy,
	recordOutcome,
	writePolicy,
} from "./fleet/migration-data";

/** A host as the fleet directory lists it. */
export interface HostDirectoryEntry {
	hostId: string;
	domain: string;
	site: string;
}

// Signatures of the cross-object contract; the lead implements the bodies.
export class Fleet extends DurableObject<Env> {
	async upsertHost(_entry: HostDirectoryEntry): Promise<void> {
		throw new Error("not implemented yet");
	}
	async listHosts(_domain?: string): Promise<HostDirectoryEntry[]> {
		throw new Error("not implemented yet");
	}
	async indexMigration(_migrationId: string, _vmId: string): Promise<void> {
		throw new Error("not implemented yet");
	}
	async findMigration(_migrationId: string): Promise<string | null> {
		throw new Error("not implemented yet");
	}

	// ── Migration data (team migration; see fleet/migration-data.ts) ──

	#migrationTablesReady = false;

	#migrationSql(): SqlStorage {
		if (!this.#migrationTablesReady) {
			ensureMigrationTables(this.ctx.storage.sql);
			this.#migrationTablesReady = true;
		}
		return this.ctx.storage.sql;
	}

	/** The migration policy in force (the default until one is stored). */
	async getPolicy(): Promise<MigrationPolicy> {
		return readPolicy(this.#migrationSql());
	}

	/** Stores a policy the caller has compiled and type-checked; returns it. */
	async putPolicy(policy: MigrationPolicy): Promise<MigrationPolicy> {
		writePolicy(this.#migrationSql(), policy, new Date());
		return policy;
	}

	/** Records how a migration onto a host ended (read back as `history.targetFailures`). */
	async recordMigrationOutcome(outcome: {
		migrationId: string;
		targetHostId: string;
		failed: boolean;
		finishedAtMs: number;
	}): Promise<void> {
		recordOutcome(this.#migrationSql(), outcome);
	}

	/** Failed migrations onto a host since `sinceMs`. */
	async countTargetFailures(targetHostId: string, sinceMs: number): Promise<number> {
		return countTargetFailures(this.#migrationSql(), targetHostId, sinceMs);
	}
}
