import {
	consoleControlProtocol,
	consoleProtocols,
	tokenProtocolPrefix,
} from "../../shared/console-protocol";
import { hashSecret } from "../../shared/keys";
import { type ProblemCode, problemDetails } from "../../shared/problem";
import type { AgentChannel, ChannelReissuer } from "./agent";
import type { HostStore } from "./host";
import type { Relay } from "./relay";
import type { SessionStore } from "./sessions";

/**
 * The service processor's WebSocket upgrades: the host agent's channel
 * (bearer agent token), the user and VM sides of a session and its read-only
 * viewers (single-use channel tokens, in the URL or a subprotocol). Refusals are problem responses built here, because a
 * Durable Object's fetch answers the client directly.
 */

const channelPath = /^\/v1\/sessions\/([^/]+)\/(user|vm|viewer)$/;

function problemResponse(code: ProblemCode, detail: string): Response {
	const body = problemDetails(code, detail);
	return Response.json(body, {
		status: body.status,
		headers: { "Content-Type": "application/problem+json" },
	});
}

function isUpgrade(request: Request): boolean {
	return request.headers.get("Upgrade")?.toLowerCase() === "websocket";
}

function notAnUpgrade(): Response {
	return problemResponse("invalid_request", "expected a WebSocket upgrade");
}

/** Accepts the server end of a new socket pair and answers 101 with the client end. */
function upgrade(accept: (socket: WebSocket) => void, protocol?: string): Response {
	const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
	accept(server);
	const headers = protocol ? { "Sec-WebSocket-Protocol": protocol } : undefined;
	return new Response(null, { status: 101, webSocket: client, headers });
}

/** The subprotocols a client offered, in its order. */
function offeredProtocols(request: Request): string[] {
	const offered = request.headers.get("Sec-WebSocket-Protocol") ?? "";
	return offered
		.split(",")
		.map((protocol) => protocol.trim())
		.filter((protocol) => protocol !== "");
}

/** A channel token from the URL (`?token=`) or, kept out of URLs, from a subprotocol. */
function channelToken(searchParams: URLSearchParams, offered: string[]): string | undefined {
	const inUrl = searchParams.get("token");
	if (inUrl) return inUrl;
	const inProtocol = offered.find((protocol) => protocol.startsWith(tokenProtocolPrefix));
	return inProtocol?.slice(tokenProtocolPrefix.length) || undefined;
}

/**
 * The subprotocol to answer with: for a user side or a viewer, the newest
 * console protocol it offered; else, for a client that offered its token as
 * a subprotocol and nothing we speak, that one (a browser refuses a
 * handshake that selects none of what it offered; the token is spent by then).
 */
function selectedProtocol(side: string, offered: string[]): string | undefined {
	const spoken =
		side === "vm" ? undefined : consoleProtocols.find((protocol) => offered.includes(protocol));
	return spoken ?? offered.find((protocol) => protocol.startsWith(tokenProtocolPrefix));
}

/** Checks the credential of an upgrade request and attaches its socket. */
export async function acceptUpgrade(
	request: Request,
	parts: {
		hosts: HostStore;
		sessions: SessionStore;
		agent: AgentChannel;
		relay: Relay;
		reissueVmChannel: ChannelReissuer;
	},
): Promise<Response> {
	const { pathname, searchParams } = new URL(request.url);
	// No host, no channels (and no storage touched for a host id nobody created).
	if (!parts.hosts.get()) return problemResponse("unauthorized", "no such host or channel");
	if (pathname.endsWith("/agent")) {
		const token = request.headers.get("Authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
		if (!token || !(await parts.hosts.verifyAgentToken(token))) {
			return problemResponse("unauthorized", "agent bearer token missing or wrong");
		}
		if (!isUpgrade(request)) return notAnUpgrade();
		// Queued channel commands whose tokens were never stored get fresh ones first.
		await parts.agent.reissueChannels(parts.reissueVmChannel);
		return upgrade((socket) => parts.agent.attach(socket));
	}
	const match = pathname.match(channelPath);
	const offered = offeredProtocols(request);
	const token = channelToken(searchParams, offered);
	if (!match?.[1] || !token) return problemResponse("unauthorized", "channel token missing");
	const sessionId = decodeURIComponent(match[1]);
	const side = match[2] === "vm" || match[2] === "viewer" ? match[2] : "user";
	// Checked before the token is spent, so a plain GET cannot burn it.
	if (!isUpgrade(request)) return notAnUpgrade();
	const tokenHash = await hashSecret(token);
	if (!parts.sessions.consumeToken(sessionId, side, tokenHash)) {
		return problemResponse("unauthorized", "channel token invalid, already used or expired");
	}
	const protocol = selectedProtocol(side, offered);
	const speech = {
		notices: protocol !== undefined && consoleProtocols.includes(protocol),
		controls: protocol === consoleControlProtocol,
	};
	return upgrade((socket) => parts.relay.attach(sessionId, side, socket, speech), protocol);
}
