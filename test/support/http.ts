import { exports } from "cloudflare:workers";

/** The admin token the workers test project runs with (see vitest.config.ts). */
export const adminToken = "test-admin-token";

const origin = "https://edgevisor.test";

/** A client address of its own (the TEST-NET-2 block, RFC 5737). */
export function newClientAddress(): string {
	const octets = crypto.getRandomValues(new Uint8Array(2));
	return `198.51.${octets[0]}.${octets[1]}`;
}

/**
 * Sends a request to the Worker under test, inside workerd. Unless the test
 * names one, each request comes from an address of its own (as on
 * Cloudflare, where the edge sets CF-Connecting-IP), so the per-address rate
 * limits and key lockouts only see what a test aims at them.
 */
export function call(path: string, init: RequestInit = {}): Promise<Response> {
	const request = new Request(`${origin}${path}`, init);
	if (!request.headers.has("CF-Connecting-IP")) {
		request.headers.set("CF-Connecting-IP", newClientAddress());
	}
	return exports.default.fetch(request);
}

/** Sends an admin request, JSON-encoding `body` when given. */
export function admin(
	method: string,
	path: string,
	body?: unknown,
	headers: Record<string, string> = {},
): Promise<Response> {
	return call(path, {
		method,
		headers: {
			Authorization: `Bearer ${adminToken}`,
			...(body === undefined ? {} : { "Content-Type": "application/json" }),
			...headers,
		},
		body: body === undefined ? undefined : JSON.stringify(body),
	});
}

/** Asserts-free helper: the parsed problem body of a response. */
export async function problemOf(
	response: Response,
): Promise<{ code: string; status: number; detail: string }> {
	return (await response.json()) as { code: string; status: number; detail: string };
}
