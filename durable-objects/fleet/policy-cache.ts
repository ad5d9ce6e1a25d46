/**
 * The migration policy as migrations read it: from the Fleet singleton at
 * most once per `policyCacheMs` per isolate, so migration requests do not all
 * pass through one object. The Fleet forgets the cached copy when it stores
 * a new policy; an isolate elsewhere may score with the previous policy for
 * up to `policyCacheMs` after a change.
 */
import type { MigrationPolicy } from "../../shared/schemas/migrations";
import { fleet } from "../stubs";

export const policyCacheMs = 5_000;

let cached: { policy: Promise<MigrationPolicy>; expiresAtMs: number } | undefined;

/** The policy in force, read from the Fleet unless this isolate read it recently. */
export function policyInForce(env: Env): Promise<MigrationPolicy> {
	const now = Date.now();
	if (!cached || cached.expiresAtMs <= now) {
		const policy = fleet(env).getPolicy();
		cached = { policy, expiresAtMs: now + policyCacheMs };
		// A failed read is not kept: the next migration asks again.
		policy.catch(() => {
			if (cached?.policy === policy) cached = undefined;
		});
	}
	return cached.policy;
}

/** Drops this isolate's copy (the Fleet calls it when it stores a new policy). */
export function forgetCachedPolicy(): void {
	cached = undefined;
}
