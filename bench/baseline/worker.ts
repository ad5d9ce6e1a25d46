import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";

interface BaselineEnv {
	ECHO: DurableObjectNamespace<Echo>;
}

/** A Durable Object that echoes: RPC calls and WebSocket frames. */
export class Echo extends DurableObject<BaselineEnv> {
	/** One RPC round trip with no work, the cost floor of every DO call. */
	async echo(value: string): Promise<string> {
		return value;
	}

	override async fetch(): Promise<Response> {
		const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
		this.ctx.acceptWebSocket(server);
		return new Response(null, { status: 101, webSocket: client });
	}

	override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
		socket.send(message);
	}
}

const app = new Hono<{ Bindings: BaselineEnv }>();
const echoStub = (env: BaselineEnv) => env.ECHO.get(env.ECHO.idFromName("echo"));

// A bare Hono route: routing and a JSON response, nothing else.
app.get("/hono", (c) => c.json({ ok: true }));
app.post("/hono", (c) => c.json({ ok: true }));
// A bare Hono route doing one Durable Object RPC.
app.get("/rpc", async (c) => c.json({ echo: await echoStub(c.env).echo("ping") }));
// The body is decoded by hand, as Edgevisor's POST /v1/sessions does: workerd
// warns on .text() for a non-text type, and under wrangler dev every warning
// costs a trip through the inspector.
app.post("/rpc", async (c) =>
	c.json({ echo: await echoStub(c.env).echo(new TextDecoder().decode(await c.req.arrayBuffer())) }),
);
// A WebSocket echoed by a Durable Object (hibernation API).
app.get("/ws", (c) => echoStub(c.env).fetch(c.req.raw));

export default app;
