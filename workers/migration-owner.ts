import { ownerOfId } from "../shared/owned-id";
import { fleet } from "./stubs";

/**
 * The VM whose object holds a migration: named by the id itself
 * (`${vmId}~${uuid}`), so a migration's routes reach that object straight,
 * without the Fleet singleton on their path. Ids made before they named
 * their VM are looked up in the Fleet's index.
 */
export async function migrationOwner(env: Env, migrationId: string): Promise<string | null> {
	return ownerOfId(migrationId) ?? (await fleet(env).findMigration(migrationId));
}
