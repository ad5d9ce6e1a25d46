import { expect } from "vitest";
import { unique } from "./console";
import { problemOf } from "./http";
import { pollUntil } from "./poll";

/**
 * Checks shared by the recording and viewer tests: problem answers, session
 * ids nobody issued, and bounded polling for effects with no event to await.
 */

/** Asserts a problem response's status and code. */
export async function expectProblem(response: Response, status: number, code: string) {
	expect(response.status).toBe(status);
	expect((await problemOf(response)).code).toBe(code);
}

/** A well-formed session id nobody issued, on `hostId` (a host nobody created unless given). */
export function unknownSessionId(hostId = unique("host")): string {
	return `${hostId}~${crypto.randomUUID()}`;
}

/** Polls every 20 ms until `check` holds, failing (and polling no more) after `timeoutMs`. */
export async function eventually(
	check: () => Promise<boolean>,
	what: string,
	timeoutMs = 5_000,
): Promise<void> {
	await pollUntil(check, (holds) => holds, { timeoutMs, what, intervalMs: 20 });
}
