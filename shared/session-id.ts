import { identifierPattern } from "./ids";

/**
 * Session ids name their service processor so that admin routes can reach the
 * right Durable Object without an index: `${hostId}~${uuid}`. `~` is outside
 * the identifier alphabet, so the split is unambiguous, and it is an
 * unreserved URL character, so the id travels in a path segment unescaped.
 */
const separator = "~";
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Pattern of a session id, for validation and the OpenAPI document. */
export const sessionIdPattern =
	/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}~[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fresh session id on `hostId`'s service processor. */
export function newSessionId(hostId: string, uuid: string = crypto.randomUUID()): string {
	return `${hostId}${separator}${uuid}`;
}

/** The host a session id belongs to, or undefined when it is not a session id. */
export function hostOfSessionId(sessionId: string): string | undefined {
	const at = sessionId.indexOf(separator);
	if (at < 0) return undefined;
	const hostId = sessionId.slice(0, at);
	const uuid = sessionId.slice(at + 1);
	if (!identifierPattern.test(hostId) || !uuidPattern.test(uuid)) return undefined;
	return hostId;
}
