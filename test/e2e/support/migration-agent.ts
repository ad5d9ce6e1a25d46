import { Webhook } from "standardwebhooks";
import WebSocket from "ws";

/**
 * A scripted hypervisor agent for end-to-end tests against `wrangler dev`:
 * a real `ws` control channel that acks every command and hands it to the
 * test, which answers with webhooks signed by the real Standard Webhooks
 * scheme. Every wait is bounded.
 */

/** A command as the server sends it. */
export type AgentCommand = { id: string; type: string; [field: string]: unknown };

/** A host created over HTTP, with its secrets. */
export interface E2eHost {
	hostId: string;
	domain: string;
	agentToken: string;
	webhookSecret: string;
}

/** Calls the API as admin; returns status and parsed body. */
export async function api(
	baseUrl: string,
	adminToken: string,
	method: string,
	path: string,
	body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
	const response = await fetch(`${baseUrl}${path}`, {
		method,
		headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await response.text();
	return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** A connected agent: `next(type)` returns the next command of that type (others are kept). */
export async function connectAgent(baseUrl: string, host: E2eHost) {
	const url = `${baseUrl.replace(/^http/, "ws")}/v1/hosts/${host.hostId}/agent`;
	const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${host.agentToken}` } });
	const inbox: AgentCommand[] = [];
	const waiters: Array<() => void> = [];
	const seen = new Set<string>();
	socket.on("message", (data) => {
		const command = JSON.parse(String(data)) as AgentCommand;
		socket.send(JSON.stringify({ type: "ack", id: command.id }));
		// At-least-once delivery: a real agent dedupes by id.
		if (seen.has(command.id)) return;
		seen.add(command.id);
		inbox.push(command);
		for (const wake of waiters.splice(0)) wake();
	});
	await new Promise<void>((resolve, reject) => {
		socket.once("open", () => resolve());
		socket.once("error", reject);
	});
	return {
		async next(type: string, timeoutMs = 10_000): Promise<AgentCommand> {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const index = inbox.findIndex((command) => command.type === type);
				if (index >= 0) return inbox.splice(index, 1)[0] as AgentCommand;
				const remaining = deadline - Date.now();
				if (remaining <= 0) throw new Error(`no ${type} command within ${timeoutMs} ms`);
				await new Promise<void>((resolve) => {
					const timer = setTimeout(resolve, remaining);
					waiters.push(() => {
						clearTimeout(timer);
						resolve();
					});
				});
			}
		},
		/** Commands of `type` received and not yet taken. */
		pending(type: string): AgentCommand[] {
			return inbox.filter((command) => command.type === type);
		},
		close(): void {
			socket.close();
		},
	};
}

/** Signs and POSTs a webhook as `host`'s agent. */
export async function sendWebhook(
	baseUrl: string,
	host: E2eHost,
	type: string,
	data: unknown,
): Promise<number> {
	const id = `msg_${crypto.randomUUID()}`;
	const body = JSON.stringify({ type, data });
	const timestamp = new Date();
	const response = await fetch(`${baseUrl}/v1/hosts/${host.hostId}/webhooks`, {
		method: "POST",
		headers: {
			"Content-Type": "application/json",
			"webhook-id": id,
			"webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
			"webhook-signature": new Webhook(host.webhookSecret).sign(id, timestamp, body),
		},
		body,
	});
	await response.arrayBuffer();
	return response.status;
}
