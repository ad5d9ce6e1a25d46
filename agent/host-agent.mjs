// @ts-check
// The host agent's protocol core, one per host, whatever the hypervisor:
// holds the control WebSocket of `GET /v1/hosts/{hostId}/agent`, reconnects
// with jittered backoff, parses every command with the contract's own schema,
// acks it, carries each id out at most once (the server delivers at least
// once), bridges consoles to VM channels, and reports by signed webhooks.
// What a command does to a VM is the driver's (./driver.mjs).
import WebSocket from "ws";
import { tokenInProtocol } from "../shared/console-protocol.ts";
import { AgentCommand } from "../shared/schemas/agent.ts";
import { createAckBatcher } from "./ack-batcher.mjs";
import { createCommandLog } from "./command-log.mjs";
import { createWebhookSender } from "./webhook-sender.mjs";

const firstRetryDelayMs = 250;
const maxRetryDelayMs = 10_000;

/**
 * @typedef {object} AgentHost
 * @property {string} hostId
 * @property {string} agentToken
 * @property {string} webhookSecret
 */
/** @typedef {(event: {type: string, [field: string]: unknown}) => void} EmitEvent */

/**
 * @param {{
 *   baseUrl: string,
 *   host: AgentHost,
 *   driver: import("./driver.mjs").HostDriver,
 *   emit: EmitEvent,
 *   commandLogPath?: string,
 *   random?: () => number,
 *   keepAck?: () => boolean,
 * }} options `keepAck` is fault injection for tests: false drops an ack
 */
export function createHostAgent({
	baseUrl,
	host,
	driver,
	emit,
	commandLogPath,
	random = Math.random,
	keepAck = () => true,
}) {
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
	const commandLog = createCommandLog(commandLogPath);
	/** @type {Map<string, WebSocket>} */
	const consoles = new Map();

	const postWebhook = createWebhookSender({
		baseUrl,
		hostId,
		webhookSecret: host.webhookSecret,
		isStopped: () => stopped,
	});
	const report = async (/** @type {string} */ type, /** @type {unknown} */ data) => {
		// Told before the POST: the server may act on it (and send the next command) before its answer arrives.
		emit({ type: "webhook.sending", hostId, webhookType: type, data });
		const delivery = await postWebhook(type, data);
		emit({ type: "webhook", hostId, delivery });
		return delivery;
	};
	const driverReady = driver.start({ report, emit: (event) => emit({ hostId, ...event }) });

	const scheduleReconnect = () => {
		if (stopped) return;
		// ±20 % jitter so a fleet of agents does not reconnect in lockstep.
		const delayMs = retryDelayMs * (0.8 + random() * 0.4);
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
		const id = /** @type {{id?: unknown}} */ (message)?.id;
		const parsed = AgentCommand.safeParse(message);
		if (!parsed.success) {
			// Ack what has an id, so an unknown or malformed command is not redelivered forever.
			if (typeof id === "string" && id !== "") acks.ack(id);
			return emit({ type: "command.malformed", hostId, text });
		}
		const command = parsed.data;
		// Ack duplicates too: a redelivery means our earlier ack was lost.
		if (keepAck()) acks.ack(command.id);
		else emit({ type: "ack.lost", hostId, id: command.id });
		const duplicate = !commandLog.add(command.id);
		emit({ type: "command", hostId, command, duplicate });
		if (!duplicate) void driverReady.then(() => carryOut(command));
	};

	/** @param {import("./driver.mjs").AgentCommand} command */
	async function carryOut(command) {
		try {
			switch (command.type) {
				case "session.open":
					return openConsole(command);
				case "session.close":
					consoles.get(command.sessionId)?.close(1000, command.reason.slice(0, 120));
					return;
				case "validation.run": {
					const { migrationId, validationSet, subtask } = command;
					const { ok, detail } = await driver.check(command);
					await report("validation.result", {
						migrationId,
						validationSet,
						subtask,
						ok,
						detail: detail.slice(0, 2000),
					});
					return;
				}
				case "migration.start":
					return await driver.migrate(command);
				case "migration.prepare":
					if (!driver.prepare) return unsupported(command.migrationId, command.type);
					return await driver.prepare(command);
				case "migration.transfer":
					if (!driver.transfer) return unsupported(command.migrationId, command.type);
					return await driver.transfer(command);
				case "migration.cancel":
					return await driver.cancel(command);
				case "vf.hold":
				case "vf.lift":
					return driver.notify(command);
			}
		} catch (error) {
			emit({
				type: "command.error",
				hostId,
				command,
				message: error instanceof Error ? error.message : String(error),
			});
		}
	}

	/** @param {string} migrationId @param {string} type */
	async function unsupported(migrationId, type) {
		await report("migration.failed", {
			migrationId,
			reason: `${hostId}'s driver cannot carry out ${type}`,
		});
	}

	/**
	 * Dials a session's VM channel and bridges it to the VM's console. Only
	 * URLs on our own control plane's origin are dialled: a session.open is
	 * the key to a VM's console, never to be handed to another server.
	 * @param {Extract<import("./driver.mjs").AgentCommand, {type: "session.open"}>} command
	 */
	function openConsole(command) {
		const { sessionId, vmId } = command;
		if (consoles.has(sessionId)) return;
		let url;
		try {
			url = new URL(command.channel.url);
		} catch {
			return emit({ type: "console.refused", hostId, sessionId, why: "not a URL" });
		}
		if (!onControlPlane(url, agentUrl)) {
			return emit({
				type: "console.refused",
				hostId,
				sessionId,
				why: `channel on ${url.protocol}//${url.host}, not this agent's control plane`,
			});
		}
		// The token travels as a subprotocol, out of the URL (and so out of access logs).
		const dial = tokenInProtocol(url.toString());
		// Console frames are small and latency-bound; deflate would cost CPU on both ends.
		const channel = new WebSocket(dial.url, dial.tokenProtocol ? [dial.tokenProtocol] : [], {
			perMessageDeflate: false,
		});
		consoles.set(sessionId, channel);
		/** @type {import("./driver.mjs").ConsoleHandle | undefined} */
		let vmConsole;
		/** Input typed while the driver readies the console (a VM still booting), in order. */
		/** @type {Array<Buffer | string> | undefined} */
		let waitingInput = [];
		channel.on("open", async () => {
			const opened = await driver.openConsole(
				vmId,
				{
					output: (data) => {
						if (channel.readyState === WebSocket.OPEN)
							channel.send(data, { binary: typeof data !== "string" });
					},
					close: (reason) => channel.close(1000, reason),
				},
				{ resume: command.resume === true, vm: command.vm },
			);
			if ("error" in opened) {
				emit({ type: "console.refused", hostId, sessionId, why: opened.error });
				return channel.close(1011, opened.error.slice(0, 120));
			}
			if (channel.readyState !== WebSocket.OPEN) return opened.close();
			vmConsole = opened;
			for (const input of waitingInput ?? []) opened.write(input);
			waitingInput = undefined;
			emit({ type: "console.attached", hostId, sessionId, vmId });
		});
		channel.on("message", (data, isBinary) => {
			const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(new Uint8Array(data));
			const input = isBinary ? chunk : chunk.toString("utf8");
			if (vmConsole) vmConsole.write(input);
			else waitingInput?.push(input);
		});
		channel.on("error", (error) => {
			emit({ type: "console.error", hostId, sessionId, message: error.message });
		});
		channel.on("close", (code, reason) => {
			vmConsole?.close();
			consoles.delete(sessionId);
			emit({ type: "console.closed", hostId, sessionId, code, reason: reason.toString() });
		});
	}

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
			void driverReady
				.then(() => driver.connected())
				.catch((error) => {
					emit({ type: "driver.log", hostId, line: `facts not reported: ${error.message}` });
				});
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
		/** Closes the channel and consoles and stops reconnecting; the driver lets go of its VMs. */
		async stop() {
			stopped = true;
			clearTimeout(retryTimer);
			try {
				acks?.flush();
			} catch {
				// The channel is gone already: the acks are redelivered commands' to give again.
			}
			socket?.close(1000, "agent stopping");
			socket = undefined;
			for (const channel of consoles.values()) channel.terminate();
			consoles.clear();
			await driver.stop();
		},
	};
}

/**
 * Whether a VM channel URL is on the agent's own control plane (`agentUrl`,
 * the agent channel's `ws:`/`wss:` URL): the only place a session.open may send it.
 * @param {URL} channelUrl @param {URL} agentUrl
 */
export function onControlPlane(channelUrl, agentUrl) {
	return channelUrl.protocol === agentUrl.protocol && channelUrl.host === agentUrl.host;
}
