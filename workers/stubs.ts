/** Durable Object stubs by the names the cross-object contract fixes (TEAM.md). */

/** The service processor of `hostId`. */
export function serviceProcessor(env: Env, hostId: string) {
	return env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(hostId));
}

/** The broadcast domain named `domain`. */
export function broadcastDomain(env: Env, domain: string) {
	return env.BROADCAST_DOMAIN.get(env.BROADCAST_DOMAIN.idFromName(domain));
}

/** The fleet directory singleton. */
export function fleet(env: Env) {
	return env.FLEET.get(env.FLEET.idFromName("fleet"));
}

/**
 * Forwards a WebSocket upgrade to a Durable Object. Its response's headers
 * are immutable, so it is rebuilt for the Worker's middleware (request id,
 * security headers) to decorate.
 */
export async function forwardUpgrade(
	stub: { fetch(request: Request): Promise<Response> },
	request: Request,
): Promise<Response> {
	const response = await stub.fetch(request);
	if (response.webSocket) {
		return new Response(null, {
			status: 101,
			webSocket: response.webSocket,
			headers: response.headers,
		});
	}
	return new Response(response.body, response);
}
