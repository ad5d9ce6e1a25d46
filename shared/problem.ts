/**
 * Errors as data: one type carrying a stable `code` and an HTTP `status`,
 * rendered as RFC 9457 problem details by the Worker's single `onError`.
 *
 * `instanceof` does not survive Durable Object RPC, so callers across RPC use
 * `asProblem()`, which recognises a problem by the `code` it carries.
 */

/** Every problem code the public contract names (API.md, "Error codes"). */
export const problemCodes = {
	invalid_request: { status: 400, title: "Invalid request" },
	unauthorized: { status: 401, title: "Unauthorized" },
	not_found: { status: 404, title: "Not found" },
	method_not_allowed: { status: 405, title: "Method not allowed" },
	payload_too_large: { status: 413, title: "Payload too large" },
	vm_exists: { status: 409, title: "VM already enrolled elsewhere" },
	vm_not_found: { status: 404, title: "VM not found" },
	host_not_found: { status: 404, title: "Host not found" },
	key_mismatch: { status: 403, title: "Key mismatch" },
	invalid_jwe: { status: 400, title: "Invalid JWE" },
	replayed_request: { status: 409, title: "Replayed request" },
	too_many_attempts: { status: 429, title: "Too many attempts", retryAfter: true },
	invalid_signature: { status: 401, title: "Invalid signature" },
	stale_timestamp: { status: 400, title: "Stale timestamp" },
	invalid_policy: { status: 400, title: "Invalid policy" },
	same_host: { status: 422, title: "Same host" },
	migration_in_progress: { status: 409, title: "Migration in progress" },
	not_cancellable: { status: 409, title: "Not cancellable" },
	device_not_found: { status: 404, title: "Device not found" },
	no_free_vf: { status: 409, title: "No free virtual function" },
	address_not_mapped: { status: 404, title: "Address not mapped" },
	function_on_hold: { status: 503, title: "Function on hold", retryAfter: true },
	forbidden: { status: 403, title: "Forbidden" },
	rate_limited: { status: 429, title: "Rate limited", retryAfter: true },
	// Additive (not in API.md's list): a viewer asked for on a closed console session.
	session_closed: { status: 409, title: "Session closed" },
	internal: { status: 500, title: "Internal error" },
} as const;

export type ProblemCode = keyof typeof problemCodes;

/** RFC 9457 body, with the contract's stable `code`. */
export interface ProblemDetails {
	type: string;
	title: string;
	status: number;
	detail: string;
	code: ProblemCode;
}

/** A failure the client should see as a problem with a stable code. */
export class Problem extends Error {
	readonly status: number;
	/** Seconds a client should wait before retrying (sent as `Retry-After`). */
	readonly retryAfterSeconds?: number;

	constructor(
		readonly code: ProblemCode,
		detail: string,
		options: { retryAfterSeconds?: number } = {},
	) {
		super(detail);
		this.name = "Problem";
		this.status = problemCodes[code].status;
		this.retryAfterSeconds = options.retryAfterSeconds;
	}
}

function isProblemCode(value: unknown): value is ProblemCode {
	return typeof value === "string" && Object.hasOwn(problemCodes, value);
}

/**
 * Recovers a Problem from anything thrown, including errors that crossed a
 * Durable Object RPC boundary (those keep `message` and own enumerable
 * properties such as `code` and `retryAfterSeconds`, but not their class).
 */
export function asProblem(error: unknown): Problem | undefined {
	if (error instanceof Problem) return error;
	if (typeof error !== "object" || error === null) return undefined;
	const { code, message, retryAfterSeconds } = error as Record<string, unknown>;
	if (!isProblemCode(code) || typeof message !== "string") return undefined;
	return new Problem(code, message, {
		retryAfterSeconds: typeof retryAfterSeconds === "number" ? retryAfterSeconds : undefined,
	});
}

/** `work`'s value, or null when it fails with a problem of `code` (anything else is rethrown). */
export async function unlessProblem<T>(code: ProblemCode, work: Promise<T>): Promise<T | null> {
	try {
		return await work;
	} catch (error) {
		if (asProblem(error)?.code === code) return null;
		throw error;
	}
}

/** The problem body for a code; `detail` must never carry secrets. */
export function problemDetails(code: ProblemCode, detail: string): ProblemDetails {
	const { status, title } = problemCodes[code];
	return {
		type: `https://edgevisor.dev/problems/${code.replaceAll("_", "-")}`,
		title,
		status,
		detail,
		code,
	};
}
