/**
 * An admin request against a Worker over real HTTP (`wrangler dev`), for
 * test setup and read-back: JSON in and out, status and parsed body back
 * (typed by the caller), `undefined` for an empty body.
 */
export async function adminRequest<Body>(
	target: { baseUrl: string; adminToken: string; signal?: AbortSignal },
	method: string,
	path: string,
	body?: unknown,
): Promise<{ status: number; body: Body }> {
	const response = await fetch(`${target.baseUrl}${path}`, {
		method,
		headers: {
			Authorization: `Bearer ${target.adminToken}`,
			...(body === undefined ? {} : { "Content-Type": "application/json" }),
		},
		body: body === undefined ? undefined : JSON.stringify(body),
		signal: target.signal,
	});
	const text = await response.text();
	return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as Body };
}
