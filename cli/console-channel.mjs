// @ts-check
// A session's console channel relayed to stdout: the WebSocket wiring shared
// by `connect` (the user channel) and `sessions watch` (a viewer channel).
// Each caller adds what it sends, what it prints and which exit code an end means.
import WebSocket from "ws";
import { consoleProtocols, tokenInProtocol } from "../shared/console-protocol.ts";

/**
 * @typedef {object} ConsoleChannelOptions
 * @property {string} leaveReason the close reason sent when the user leaves
 * @property {(statusCode: number | undefined) => string} refusedMessage the stderr line when the upgrade is refused
 * @property {() => void} [onOpen] once the channel is open
 * @property {() => void} [onFrame] after each frame is written to stdout
 * @property {(notice: import("../shared/console-protocol.ts").ConsoleNotice) => void} [onNotice]
 *   Edgevisor's notices about the session (the VM moved, the console's size); offering them makes the console binary-only
 * @property {(code: number, reason: string, userLeft: boolean) => number} onClose
 *   reports the end (`reason` is the peer's, else `leaveReason` or `code N`) and returns the exit code
 */

/**
 * @typedef {object} ConsoleChannel
 * @property {WebSocket} socket
 * @property {() => void} leave closes the channel as the user's choice
 * @property {Promise<number>} closed the exit code `onClose` chose
 */

/**
 * Opens `url` and writes every frame it carries to stdout until it closes.
 * @param {string} url
 * @param {ConsoleChannelOptions} options
 * @returns {ConsoleChannel}
 */
export function openConsoleChannel(
	url,
	{ leaveReason, refusedMessage, onOpen, onFrame, onNotice, onClose },
) {
	// The token travels as a subprotocol, out of the URL (and so out of access logs).
	const dial = tokenInProtocol(url);
	const protocols = [...(onNotice ? consoleProtocols : []), dial.tokenProtocol].filter(Boolean);
	const socket = new WebSocket(dial.url, /** @type {string[]} */ (protocols));
	let userLeft = false;
	const leave = () => {
		userLeft = true;
		socket.close(1000, leaveReason);
	};
	/** @type {Promise<number>} */
	const closed = new Promise((resolve) => {
		if (onOpen) socket.on("open", onOpen);
		socket.on("message", (data, isBinary) => {
			const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(new Uint8Array(data));
			// Under a console subprotocol a text frame is a notice, never console output.
			if (!isBinary && consoleProtocols.includes(socket.protocol)) {
				try {
					onNotice?.(JSON.parse(bytes.toString("utf8")));
				} catch {
					// Not a notice we know: nothing to show.
				}
				return;
			}
			process.stdout.write(bytes);
			onFrame?.();
		});
		socket.on("unexpected-response", (_request, response) => {
			response.resume();
			socket.terminate();
			process.stderr.write(`${refusedMessage(response.statusCode)}\n`);
		});
		socket.on("error", () => {
			// Reported by the close handler with its code.
		});
		socket.on("close", (code, reasonBuffer) => {
			const reason = reasonBuffer.toString() || (userLeft ? leaveReason : `code ${code}`);
			resolve(onClose(code, reason, userLeft));
		});
	});
	return { socket, leave, closed };
}
