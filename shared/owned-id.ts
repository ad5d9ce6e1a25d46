import { identifierPattern } from "./ids";

/**
 * Ids that name their owner, `${owner}~${uuid}`, so a route reaches the
 * Durable Object that holds the thing without asking an index: a session id
 * names its service processor's host, a migration id its VM. `~` is outside
 * the identifier alphabet, so the split is unambiguous, and it is an
 * unreserved URL character, so the id travels in a path segment unescaped.
 */
const separator = "~";
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Pattern of an owned id, for validation and the OpenAPI document. */
export const ownedIdPattern =
	/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}~[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fresh id owned by `owner` (a host id, a VM id). */
export function newOwnedId(owner: string, uuid: string = crypto.randomUUID()): string {
	return `${owner}${separator}${uuid}`;
}

/** The owner an id names, or undefined when it is not an owned id. */
export function ownerOfId(id: string): string | undefined {
	const at = id.indexOf(separator);
	if (at < 0) return undefined;
	const owner = id.slice(0, at);
	const uuid = id.slice(at + 1);
	if (!identifierPattern.test(owner) || !uuidPattern.test(uuid)) return undefined;
	return owner;
}
