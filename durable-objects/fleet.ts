import { DurableObject } from "cloudflare:workers";

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
}
