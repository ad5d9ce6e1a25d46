// @ts-check
// `edgevisor connect`: the broadcast session request (a JWE of
// {domain, vm, key, jti, iat, exp} encrypted to the server's JWKS) and an
// interactive console over the user channel. Ctrl-] leaves; the terminal is
// always restored.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { EncryptJWT, importJWK } from "jose";
import WebSocket from "ws";
import {
	consoleControlProtocol,
	resizeControl,
	terminalSizeOf,
} from "../shared/console-protocol.ts";
import { createApiClient } from "./api.mjs";
import { openConsoleChannel } from "./console-channel.mjs";
import { CliError, exitCodes } from "./output.mjs";

const escapeByte = 0x1d; // Ctrl-]
/**
 * Close reasons of a console that simply ended (the guest logged out, the user
 * went away); any other (terminated, vm_migrated, idle_timeout, …) exits 8.
 */
const endedByAPeer = new Set(["vm_disconnected", "user_disconnected", "user left", "closed"]);
const requestLifetimeSeconds = 60;
/** With piped input, how long the console may stay quiet after input ends before we leave. */
const pipedQuietMs = 1500;

/**
 * Builds the compact JWE the server's `POST /v1/sessions` accepts.
 * @param {{baseUrl: string, domain: string, vmId: string, key: string}} options
 */
export async function buildSessionRequest({ baseUrl, domain, vmId, key }) {
	const api = createApiClient({ baseUrl });
	const { body: jwks } = await api.GET("/.well-known/jwks.json");
	// Newest key first; any listed key is accepted by its kid.
	const jwk = jwks.keys.find((candidate) => candidate.alg === "ECDH-ES+A256KW");
	if (!jwk) throw new CliError("the server publishes no ECDH-ES+A256KW key", exitCodes.unavailable);
	const publicKey = await importJWK(jwk, "ECDH-ES+A256KW");
	const issuedAt = Math.floor(Date.now() / 1000);
	return new EncryptJWT({ domain, vm: vmId, key })
		.setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM", kid: jwk.kid })
		.setJti(randomUUID())
		.setIssuedAt(issuedAt)
		.setExpirationTime(issuedAt + requestLifetimeSeconds)
		.encrypt(publicKey);
}

/**
 * Sends the broadcast request and opens the console.
 * @param {{baseUrl: string, domain: string, vm: string, keyFile: string, json?: boolean}} options
 * @returns {Promise<number>} the exit code
 */
export async function connect({ baseUrl, domain, vm, keyFile, json = false }) {
	let key;
	try {
		key = (await readFile(keyFile, "utf8")).trim();
	} catch {
		throw new CliError(`cannot read key file ${keyFile}`, exitCodes.usage);
	}
	const jwe = await buildSessionRequest({ baseUrl, domain, vmId: vm, key });
	const api = createApiClient({ baseUrl });
	const { body: session } = await api.POST("/v1/sessions", {
		body: jwe,
		// The JWE is the credential: no admin token, and it goes as it is, not as JSON.
		bodySerializer: (/** @type {string} */ compact) => compact,
		headers: { "Content-Type": "application/jose" },
	});
	if (json) process.stderr.write(`${JSON.stringify(session)}\n`);
	process.stderr.write(
		`Connected to ${session.vmId} on ${session.hostId} (session ${session.sessionId}). Ctrl-] leaves.\r\n`,
	);
	return runConsole(session.userChannel.url);
}

/**
 * Relays the terminal to the user channel until either side ends it, and
 * tells the server the terminal's size when it opens and on every change.
 * @param {string} url
 * @returns {Promise<number>}
 */
function runConsole(url) {
	const { stdin, stdout, stderr } = process;
	const interactive = stdin.isTTY === true;
	/** @type {ReturnType<typeof setTimeout> | undefined} */
	let quietTimer;
	/** @type {boolean | undefined} */
	let inputEnded;

	const armQuietTimer = () => {
		clearTimeout(quietTimer);
		if (inputEnded) quietTimer = setTimeout(channel.leave, pipedQuietMs);
	};
	const onInput = (/** @type {Buffer} */ chunk) => {
		const escapeAt = chunk.indexOf(escapeByte);
		const forward = escapeAt === -1 ? chunk : chunk.subarray(0, escapeAt);
		if (forward.length > 0 && channel.socket.readyState === WebSocket.OPEN) {
			channel.socket.send(forward);
		}
		if (escapeAt !== -1) channel.leave();
	};
	// Only under v2, whose text frames are controls: under v1 they would be typed into the VM.
	const tellSize = () => {
		const { socket } = channel;
		if (socket.protocol !== consoleControlProtocol || socket.readyState !== WebSocket.OPEN) return;
		// A pty nobody sized reports 0×0: then the server keeps its default.
		const size = stdout.isTTY && terminalSizeOf({ cols: stdout.columns, rows: stdout.rows });
		if (size) socket.send(resizeControl(size));
	};
	const restoreTerminal = () => {
		stdout.off("resize", tellSize);
		stdin.off("data", onInput);
		if (interactive) stdin.setRawMode(false);
		stdin.pause();
	};

	// Whatever ends the process, the user's terminal must not stay in raw mode.
	process.once("exit", () => {
		if (interactive) stdin.setRawMode(false);
	});
	const channel = openConsoleChannel(url, {
		leaveReason: "user left",
		refusedMessage: (statusCode) => `the user channel was refused with HTTP ${statusCode}`,
		onOpen: () => {
			tellSize();
			stdout.on("resize", tellSize);
			if (interactive) stdin.setRawMode(true);
			stdin.on("data", onInput);
			stdin.once("end", () => {
				inputEnded = true;
				armQuietTimer();
			});
			stdin.resume();
		},
		onFrame: armQuietTimer,
		// One line of our own on stderr: the console stream itself stays the VM's.
		onNotice: (notice) => {
			if (notice.type === "vm_moved") {
				stderr.write(`\r\n[the VM moved to host ${notice.vmHostId}; the session goes on]\r\n`);
			}
		},
		onClose: (code, reason, userLeft) => {
			clearTimeout(quietTimer);
			restoreTerminal();
			stderr.write(`\r\n[session closed: ${reason}]\n`);
			const ended = userLeft || (code === 1000 && endedByAPeer.has(reason));
			return ended ? exitCodes.ok : exitCodes.operationFailed;
		},
	});
	return channel.closed;
}
