import { exports } from "cloudflare:workers";

/** The admin token the workers test project runs with (see vitest.config.ts). */
export const adminToken = "test-admin-token";

const origin = "https://edgevisor.test";

/** Sends a request to the Worker under test, inside workerd. */
export function call(path: string, init: RequestInit = {}): Promise<Response> {
	return exports.default.fetch(new Request(`${origin}${path}`, init));
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
