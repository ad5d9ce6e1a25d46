import { createRoute, z } from "@hono/zod-openapi";
import { HostIdParam } from "../../shared/ids";
import { openBroadcastRequest } from "../../shared/jwe";
import { hashSecret } from "../../shared/keys";
import { ownerOfId } from "../../shared/owned-id";
import { Problem } from "../../shared/problem";
import { jsonContent, problemResponses } from "../../shared/schemas/openapi";
import {
	AuditListSchema,
	AuditQuerySchema,
	SessionIdParam,
	SessionListSchema,
	SessionOpenedSchema,
	SessionSchema,
} from "../../shared/schemas/sessions";
import { createRouter } from "../app";
import { adminSecurity, requireAdmin } from "../middleware/auth";
import { clientAddress, rateLimit } from "../middleware/rate-limit";
import { deliverSessionRequest } from "../session-delivery";
import { forwardUpgrade, serviceProcessor } from "../stubs";
import { keyRing } from "./jwks";

const openSession = createRoute({
	method: "post",
	path: "/v1/sessions",
	operationId: "openSession",
	security: [],
	tags: ["sessions"],
	summary: "Broadcast a session request (compact JWE)",
	middleware: [rateLimit("SESSION_RATE_LIMIT")] as const,
	description:
		"The body is a compact JWE (ECDH-ES+A256KW / A256GCM, kid from /.well-known/jwks.json) of the claims {domain, vm, key, jti, iat, exp}. The request is addressed to the domain; the service processor whose table holds the VM id secures the user side, checks the key, and asks the host agent to open the VM side.",
	request: {
		body: {
			required: true,
			content: { "application/jose": { schema: z.string().openapi({ format: "jwe" }) } },
		},
	},
	responses: {
		201: { description: "Session opened", content: jsonContent(SessionOpenedSchema) },
		...problemResponses(
			"invalid_request",
			"invalid_jwe",
			"key_mismatch",
			"vm_not_found",
			"replayed_request",
			"too_many_attempts",
			"rate_limited",
			"payload_too_large",
		),
	},
});

const getSession = createRoute({
	method: "get",
	path: "/v1/sessions/{sessionId}",
	operationId: "getSession",
	tags: ["sessions"],
	summary: "A session record",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: SessionIdParam },
	responses: {
		200: { description: "The session", content: jsonContent(SessionSchema) },
		...problemResponses("invalid_request", "unauthorized", "not_found"),
	},
});

const deleteSession = createRoute({
	method: "delete",
	path: "/v1/sessions/{sessionId}",
	operationId: "terminateSession",
	tags: ["sessions"],
	summary: "Terminate a session",
	description: 'Both sockets are closed; the record keeps `closeReason: "terminated"`.',
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: SessionIdParam },
	responses: {
		204: { description: "Terminated (or already closed)" },
		...problemResponses("invalid_request", "unauthorized", "not_found"),
	},
});

const listSessions = createRoute({
	method: "get",
	path: "/v1/hosts/{hostId}/sessions",
	operationId: "listHostSessions",
	tags: ["sessions"],
	summary: "Sessions of a host's service processor, newest first",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostIdParam },
	responses: {
		200: { description: "The sessions", content: jsonContent(SessionListSchema) },
		...problemResponses("invalid_request", "unauthorized", "host_not_found"),
	},
});

const listAudit = createRoute({
	method: "get",
	path: "/v1/hosts/{hostId}/audit",
	operationId: "listHostAudit",
	tags: ["sessions"],
	summary: "The service processor's audit trail, newest first",
	description:
		"Session requested, id matched (user side secured), key matched or mismatched, lockouts, channels attached, closed; SP-table changes. Never keys or tokens.",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostIdParam, query: AuditQuerySchema },
	responses: {
		200: { description: "The events", content: jsonContent(AuditListSchema) },
		...problemResponses("invalid_request", "unauthorized", "host_not_found"),
	},
});

const channelOperationIds = {
	user: "openUserChannel",
	vm: "openVmChannel",
	viewer: "openViewerChannel",
} as const;

const channelDescriptions = {
	user: "A session's user channel (WebSocket). The URL comes from `userChannel.url`",
	vm: "A session's VM channel (WebSocket). The URL comes from the agent's `session.open` command",
	viewer:
		"A session's read-only viewer channel (WebSocket). The URL comes from `POST /v1/sessions/{sessionId}/viewers`; a viewer receives the VM's output from the moment it joins, and what it sends is dropped",
} as const;

/** The console subprotocols (shared/console-protocol.ts), on the channels that speak them. */
const consoleProtocolsDescription =
	'Text and binary frames are relayed verbatim to the other side, but for what an optional console subprotocol says (the newest offered is chosen). Under `edgevisor.console.v1` the console comes as binary frames only, and Edgevisor\'s notices as text frames of JSON. `edgevisor.console.v2` is v1, and the client\'s own text frames are control messages, never relayed (its console input goes as binary): `{"type": "resize", "cols": 120, "rows": 40}` (whole numbers, 1 to 1000) tells its terminal\'s size, when the channel opens and on every change; anything else is ignored.';

/** How each channel's frames travel, after its token. */
const channelFrames = {
	user: `${consoleProtocolsDescription} A user side is told \`{"type": "vm_moved", "vmHostId"}\`. The session's recording (asciicast v2) starts at the size told (80×24 if none) and records each change as an \`r\` event.`,
	viewer: `${consoleProtocolsDescription} A viewer is told \`{"type": "resize", "cols", "rows"}\`, the size the user's terminal told, on joining and on every change.`,
	vm: "Text and binary frames are relayed verbatim to the other side.",
} as const;

/**
 * One route per side, with a static last segment: a `{side}` parameter next
 * to `/recording` would make Hono fall back from its RegExpRouter to the
 * slower TrieRouter for every route.
 */
function channelRoute(side: keyof typeof channelDescriptions) {
	return createRoute({
		method: "get",
		path: `/v1/sessions/{sessionId}/${side}`,
		operationId: channelOperationIds[side],
		security: [],
		tags: ["sessions"],
		summary: `A session's ${side === "vm" ? "VM" : side} channel (WebSocket)`,
		description: `${channelDescriptions[side]}. It carries a single-use token; a client may instead offer it as the WebSocket subprotocol \`edgevisor.token.<token>\` (beside the subprotocol it speaks) and leave it out of the URL. ${channelFrames[side]}`,
		request: {
			params: SessionIdParam,
			query: z.object({
				token: z
					.string()
					.optional()
					.openapi({ param: { name: "token", in: "query" } }),
			}),
		},
		responses: {
			101: { description: "Switching Protocols: the channel is attached" },
			...problemResponses("invalid_request", "unauthorized"),
		},
	});
}

/** The host whose service processor holds a session; `not_found` for a malformed id. */
export function hostOf(sessionId: string): string {
	const hostId = ownerOfId(sessionId);
	if (!hostId) throw new Problem("not_found", "no such session");
	return hostId;
}

/**
 * The `ws:`/`wss:` origin channel URLs are built on: the configured public
 * origin, never the request's `Host` — a forged Host would otherwise make the
 * host agent hand a VM's console to whoever sent it (API.md, channel URLs).
 */
export function channelOrigin(env: Env, requestUrl: string): string {
	const url = new URL(env.PUBLIC_ORIGIN || requestUrl);
	return `${url.protocol === "https:" ? "wss:" : "ws:"}//${url.host}`;
}

/** Broadcast session requests, session records and their channels. */
export const sessionRoutes = createRouter()
	.openapi(openSession, async (c) => {
		const contentType = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
		if (contentType !== "application/jose") {
			throw new Problem("invalid_request", "Content-Type must be application/jose");
		}
		const nowSeconds = Math.floor(Date.now() / 1000);
		// Decoded by hand: workerd warns on .text() for a non-text type, and under
		// wrangler dev every warning costs a trip through the inspector.
		const compactJwe = new TextDecoder().decode(await c.req.arrayBuffer());
		const claims = await openBroadcastRequest(compactJwe, await keyRing(c.env), nowSeconds);
		const opened = await deliverSessionRequest(c.env, {
			domain: claims.domain,
			vmId: claims.vm,
			// The key goes no further than the edge; SPs compare hashes.
			keyHash: await hashSecret(claims.key),
			jti: claims.jti,
			expSeconds: claims.exp,
			channelOrigin: channelOrigin(c.env, c.req.url),
			client: clientAddress(c.req.raw),
		});
		return c.json(opened, 201);
	})
	.openapi(getSession, async (c) => {
		const { sessionId } = c.req.valid("param");
		const session = await serviceProcessor(c.env, hostOf(sessionId)).getSession(sessionId);
		if (!session) throw new Problem("not_found", "no such session");
		return c.json(session, 200);
	})
	.openapi(deleteSession, async (c) => {
		const { sessionId } = c.req.valid("param");
		const found = await serviceProcessor(c.env, hostOf(sessionId)).terminateSession(sessionId);
		if (!found) throw new Problem("not_found", "no such session");
		return c.body(null, 204);
	})
	.openapi(listSessions, async (c) => {
		const { hostId } = c.req.valid("param");
		return c.json({ sessions: await serviceProcessor(c.env, hostId).listSessions() }, 200);
	})
	.openapi(listAudit, async (c) => {
		const { hostId } = c.req.valid("param");
		const { limit } = c.req.valid("query");
		const events = await serviceProcessor(c.env, hostId).listAudit(limit);
		return c.json(AuditListSchema.parse({ events }), 200);
	})
	.openapi(channelRoute("user"), (c) => forwardChannel(c.env, c.req.valid("param"), c.req.raw))
	.openapi(channelRoute("vm"), (c) => forwardChannel(c.env, c.req.valid("param"), c.req.raw))
	.openapi(channelRoute("viewer"), (c) => forwardChannel(c.env, c.req.valid("param"), c.req.raw));

/** Hands a channel's WebSocket upgrade to the service processor holding the session. */
function forwardChannel(env: Env, { sessionId }: { sessionId: string }, request: Request) {
	return forwardUpgrade(serviceProcessor(env, hostOf(sessionId)), request);
}
