export {
	broadcastDomain,
	fleet,
	hostDevices,
	pciDevice,
	serviceProcessor,
	virtualMachine,
} from "../durable-objects/stubs";

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
