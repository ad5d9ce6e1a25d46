// @ts-check
// One simulated host agent: holds the control WebSocket of
// `GET /v1/hosts/{hostId}/agent`, reconnects with backoff, acks every
// command and carries each command id out at most once (the server delivers
// at least once), and reports its facts by webhook on every connect.
import WebSocket from "ws";
import { createAckBatcher } from "./ack-batcher.mjs";
import { createCommandHandlers } from "./command-handlers.mjs";
import { createWebhookSender } from "./webhook-sender.mjs";

const firstRetryDelayMs = 250;
const maxRetryDelayMs = 10_000;
/** Enough ids to cover any redelivery window; oldest are forgotten first. */
const rememberedCommandIds = 10_000;

/**
 * @typedef {object} SimulatedHost
 * @property {string} hostId
 * @property {string} agentToken
 * @property {string} webhookSecret
 * @property {{cpu?: {model: string, flags: string[]}, memoryMiB?: number, memoryFreeMiB?: number, hypervisor?: {name: string, version: string}}} [facts]
 */

/**
 * @param {{
 *   baseUrl: string,
 *   host: SimulatedHost,
 *   vmShape: (vmId: string) => import("./command-handlers.mjs").VmShape,
 *   behaviour: import("./command-handlers.mjs").AgentBehaviour,
 *   emit: import("./command-handlers.mjs").EmitEvent,
 * }} options
 */
export function createHostAgent({ baseUrl, host, vmShape, behaviour, emit }) {
	const { hostId, agentToken } = host;
	const agentUrl = new URL(`/v1/hosts/${encodeURIComponent(hostId)}/agent`, baseUrl);
	agentUrl.protocol = agentUrl.protocol === "https:" ? "wss:" : "ws:";
	let stopped = false;
	let retryDelayMs = firstRetryDelayMs;
	/** @type {WebSocket | undefined} */
	let socket;
	/** @type {ReturnType<typeof createAckBatcher> | undefined} */
	let acks;
	/** @type {ReturnType<typeof setTimeout> | undefined} */
	let retryTimer;
	/** @type {Set<string>} */
	const seenCommandIds = new Set();

	const postWebhook = createWebhookSender({
		baseUrl,
		hostId,
		webhookSecret: host.webhookSecret,
		isStopped: () => stopped,
	});
	const sendWebhook = async (/** @type {string} */ type, /** @type {unknown} */ data) => {
		const delivery = await postWebhook(type, data);
		emit({ type: "webhook", hostId, delivery });
		return delivery;
	};
	const handlers = createCommandHandlers({ hostId, sendWebhook, vmShape, behaviour, emit });

	const scheduleReconnect = () => {
		if (stopped) return;
		// ±20 % jitter so a fleet of agents does not reconnect in lockstep.
		const delayMs = retryDelayMs * (0.8 + behaviour.random() * 0.4);
		retryDelayMs = Math.min(maxRetryDelayMs, retryDelayMs * 2);
		retryTimer = setTimeout(connect, delayMs);
	};

	/** @param {{ack(id: string): void}} acks @param {string} text */
	const receive = (acks, text) => {
		/** @type {unknown} */
		let message;
		try {
			message = JSON.parse(text);
		} catch {
			return emit({ type: "command.malformed", hostId, text });
		}
		if (!isCommand(message)) return emit({ type: "command.malformed", hostId, text });
		// Ack duplicates too: a redelivery means our earlier ack was lost.
		if (behaviour.random() >= behaviour.ackLossRate) acks.ack(String(message.id));
		else emit({ type: "ack.lost", hostId, id: message.id });
		const commandKey = String(message.id);
		const duplicate = seenCommandIds.has(commandKey);
		emit({ type: "command", hostId, command: message, duplicate });
		if (duplicate) return;
		seenCommandIds.add(commandKey);
		if (seenCommandIds.size > rememberedCommandIds) {
			const [oldest] = seenCommandIds;
			if (oldest !== undefined) seenCommandIds.delete(oldest);
		}
		handlers.handle(message);
	};

	function connect() {
		if (stopped) return;
		const channel = new WebSocket(agentUrl, {
			headers: { Authorization: `Bearer ${agentToken}` },
			// Commands and acks are a few hundred bytes: deflate would only cost CPU.
			perMessageDeflate: false,
		});
		socket = channel;
		const channelAcks = createAckBatcher((frame) => channel.send(frame));
		acks = channelAcks;
		channel.on("open", () => {
			retryDelayMs = firstRetryDelayMs;
			emit({ type: "connected", hostId });
			if (host.facts) void sendWebhook("host.facts", host.facts);
		});
		channel.on("message", (data, isBinary) => {
			if (isBinary) return emit({ type: "command.malformed", hostId, text: "<binary>" });
			receive(channelAcks, data.toString());
		});
		channel.on("unexpected-response", (_request, response) => {
			emit({ type: "rejected", hostId, status: response.statusCode });
			response.resume();
			channel.terminate();
		});
		channel.on("error", (error) => emit({ type: "channel.error", hostId, message: error.message }));
		channel.on("close", (code) => {
			if (socket === channel) socket = undefined;
			emit({ type: "disconnected", hostId, code });
			scheduleReconnect();
		});
	}

	return {
		hostId,
		/** Opens the control channel (and keeps reopening it until `stop()`). */
		start() {
			stopped = false;
			connect();
		},
		/**
		 * Drops the control channel without stopping; the agent reconnects by
		 * itself. Frames already sent (acks) still reach the server first.
		 */
		dropConnection() {
			acks?.flush();
			socket?.close(4001, "simulated connection drop");
		},
		/** Whether the control channel is open right now. */
		get connected() {
			return socket?.readyState === WebSocket.OPEN;
		},
		/** Closes everything and stops reconnecting. */
		stop() {
			stopped = true;
			clearTimeout(retryTimer);
			socket?.close(1000, "agent stopping");
			socket = undefined;
			handlers.dispose();
		},
	};
}

/**
 * @param {unknown} message
 * @returns {message is import("./command-handlers.mjs").AgentCommand}
 */
function isCommand(message) {
	if (typeof message !== "object" || message === null) return false;
	const { id, type } = /** @type {{id?: unknown, type?: unknown}} */ (message);
	const validId = (typeof id === "string" && id !== "") || Number.isSafeInteger(id);
	return validId && typeof type === "string";
}
