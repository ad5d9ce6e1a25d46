import { DurableObject } from "cloudflare:workers";
import { Problem } from "../shared/problem";
import type {
	MigrationEvent,
	MigrationRecord,
	MigrationRequest,
} from "../shared/schemas/migrations";
import { type Answer, answer } from "./refusals";
import { hasSchema, migrateSchema } from "./sql";
import { migrationSchema, migrationSchemaKey } from "./virtual-machine/migration-store";
import { type EventOutcome, MigrationCoordinator } from "./virtual-machine/migrations";

import type { AttachedFunction, Placement } from "./virtual-machine/records";

export type { AttachedFunction, Placement } from "./virtual-machine/records";

const schema = [
	`CREATE TABLE placement (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), vm_id TEXT NOT NULL, host_id TEXT NOT NULL, placed_at INTEGER NOT NULL);
	 CREATE TABLE attached_functions (host_id TEXT NOT NULL, bdf TEXT NOT NULL, virtual_address TEXT NOT NULL, vf_index INTEGER NOT NULL, attached_at INTEGER NOT NULL, PRIMARY KEY (host_id, bdf, virtual_address));`,
];

/**
 * One object per VM (`idFromName(vmId)`). Its placement makes a VM id unique
 * across all service-processor tables and is the tiebreaker while a migration
 * hands the VM from one service processor to another.
 */
export class VirtualMachine extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		// A VM nobody enrolled writes nothing: a public session request may name
		// any VM id, and the domain asks this object for its placement.
		if (hasSchema(ctx.storage)) this.prepareSchema();
		this.#migrations = new MigrationCoordinator(ctx, env, {
			vmId: () => this.vmId(),
			getPlacement: () => this.getPlacement(),
			movePlacement: async (fromHostId, toHostId) => this.#movePlacement(fromHostId, toHostId),
			listFunctions: () => this.listFunctions(),
		});
	}

	#schemaReady = false;

	/**
	 * Creates or upgrades the schema. Every method that writes or streams
	 * calls it first; reads answer empty without it, so looking at an unknown
	 * VM stores nothing.
	 */
	private prepareSchema(): void {
		if (this.#schemaReady) return;
		migrateSchema(this.ctx.storage, schema);
		migrateSchema(this.ctx.storage, migrationSchema, migrationSchemaKey);
		this.#schemaReady = true;
	}

	/** Places the VM on `hostId`; `vm_exists` when it lives on another host. */
	async claimPlacement(hostId: string): Answer<void> {
		return answer(() => {
			this.prepareSchema();
			const vmId = this.vmId();
			const current = this.placement();
			if (current && current.hostId !== hostId) {
				throw new Problem("vm_exists", `VM ${vmId} is enrolled on another host`);
			}
			if (!current) {
				this.ctx.storage.sql.exec(
					"INSERT INTO placement (singleton, vm_id, host_id, placed_at) VALUES (1, ?, ?, ?)",
					vmId,
					hostId,
					Date.now(),
				);
			}
		});
	}

	/** Forgets the placement if it is `hostId` (idempotent); a migration from there fails. */
	async releasePlacement(hostId: string): Answer<void> {
		return answer(async () => {
			this.prepareSchema();
			this.ctx.storage.sql.exec("DELETE FROM placement WHERE host_id = ?", hostId);
			await this.#migrations.abandon(hostId);
		});
	}

	/** Moves the VM from `fromHostId` to `toHostId`; a repeat after the move is a no-op. */
	async movePlacement(fromHostId: string, toHostId: string): Answer<void> {
		return answer(() => this.#movePlacement(fromHostId, toHostId));
	}

	/**
	 * Where the VM lives now, or null when it is not enrolled anywhere. Read
	 * without creating storage: no schema means no placement was ever claimed.
	 */
	async getPlacement(): Promise<Placement | null> {
		return this.#schemaReady ? this.placement() : null;
	}

	/** Records (or updates the VF index of) an attached function. */
	async attachFunction(fn: AttachedFunction): Promise<void> {
		this.prepareSchema();
		this.ctx.storage.sql.exec(
			`INSERT INTO attached_functions (host_id, bdf, virtual_address, vf_index, attached_at) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (host_id, bdf, virtual_address) DO UPDATE SET vf_index = excluded.vf_index`,
			fn.hostId,
			fn.bdf,
			fn.virtualAddress,
			fn.vfIndex,
			Date.now(),
		);
	}

	/** The VM's attached functions, oldest first. */
	async listFunctions(): Promise<AttachedFunction[]> {
		if (!this.#schemaReady) return [];
		return this.ctx.storage.sql
			.exec<{ host_id: string; bdf: string; vf_index: number; virtual_address: string }>(
				"SELECT host_id, bdf, vf_index, virtual_address FROM attached_functions ORDER BY attached_at, rowid",
			)
			.toArray()
			.map((row) => ({
				hostId: row.host_id,
				bdf: row.bdf,
				vfIndex: row.vf_index,
				virtualAddress: row.virtual_address,
			}));
	}

	// ── Migrations (team migration; see virtual-machine/migrations.ts) ──

	readonly #migrations: MigrationCoordinator;

	/** Assesses a migration of this VM; unless a dry run, records it and starts validating. */
	async requestMigration(request: MigrationRequest): Answer<MigrationRecord> {
		return answer(() => {
			this.prepareSchema();
			return this.#migrations.request(request);
		});
	}

	/** One of this VM's migrations, or null. */
	async getMigration(migrationId: string): Answer<MigrationRecord | null> {
		return answer(() => (this.#schemaReady ? this.#migrations.get(migrationId) : null));
	}

	/** This VM's migrations, newest first. */
	async listMigrations(): Answer<MigrationRecord[]> {
		return answer(() => (this.#schemaReady ? this.#migrations.list() : []));
	}

	/** Applies a verified agent webhook about one of this VM's migrations. */
	async applyMigrationEvent(hostId: string, event: MigrationEvent): Answer<EventOutcome> {
		return answer(() => {
			this.prepareSchema();
			return this.#migrations.applyEvent(hostId, event);
		});
	}

	/** Cancels a migration; `not_cancellable` once it ended or its handoff began. */
	async cancelMigration(migrationId: string): Answer<MigrationRecord> {
		return answer(() => {
			this.prepareSchema();
			return this.#migrations.cancel(migrationId);
		});
	}

	/** Server-Sent Events of a migration's changes (after `afterSeq`, else from now). */
	async migrationEvents(
		migrationId: string,
		afterSeq?: number,
	): Answer<ReadableStream<Uint8Array>> {
		return answer(() => {
			this.prepareSchema();
			return this.#migrations.events(migrationId, afterSeq);
		});
	}

	/** Alarms belong to migrations: timeouts, queued calls, interrupted handoffs. */
	override async alarm(): Promise<void> {
		this.prepareSchema();
		await this.#migrations.alarm();
	}

	#movePlacement(fromHostId: string, toHostId: string): void {
		this.prepareSchema();
		const current = this.placement();
		if (current?.hostId === toHostId) return;
		if (current?.hostId !== fromHostId) {
			throw new Problem("vm_not_found", `VM ${this.vmId()} is not on host ${fromHostId}`);
		}
		this.ctx.storage.sql.exec(
			"UPDATE placement SET host_id = ?, placed_at = ?",
			toHostId,
			Date.now(),
		);
	}

	private vmId(): string {
		// Objects are always addressed by name (`idFromName(vmId)`).
		return this.ctx.id.name ?? this.ctx.id.toString();
	}

	private placement(): Placement | null {
		const [row] = this.ctx.storage.sql
			.exec<{ vm_id: string; host_id: string }>("SELECT vm_id, host_id FROM placement")
			.toArray();
		return row ? { vmId: row.vm_id, hostId: row.host_id } : null;
	}
}
