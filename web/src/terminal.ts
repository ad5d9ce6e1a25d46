/**
 * `#/terminal`: a VM's console in the browser. The user gives the domain, VM
 * id and key; the page builds the broadcast request exactly as a user's
 * device does (a compact JWE of {domain, vm, key, jti, iat, exp} encrypted
 * with ECDH-ES+A256KW / A256GCM to a key from /.well-known/jwks.json, with its
 * kid), posts it, and wires the user channel to xterm.js. The key never
 * leaves this page except inside the JWE.
 */

import { EncryptJWT, importJWK, type JWK } from "jose";
import {
	type ConsoleNotice,
	consoleControlProtocol,
	resizeControl,
} from "../../shared/console-protocol";
import { describeError, postSessionRequest } from "./api";
import { errorBox, h } from "./dom";
import { hashQuery } from "./route-query";
import type { SessionOpened } from "./types";
import { dialConsole, openTerminal, pipeSocketToTerminal } from "./xterm";

const requestLifetimeSeconds = 60;

/** The compact JWE for `POST /v1/sessions`. */
async function buildSessionRequest(claims: {
	domain: string;
	vm: string;
	key: string;
}): Promise<string> {
	const response = await fetch("/.well-known/jwks.json");
	const { keys } = (await response.json()) as { keys: JWK[] };
	// Newest first; any listed key is accepted by its kid.
	const jwk = keys.find((candidate) => candidate.alg === "ECDH-ES+A256KW");
	if (!jwk?.kid) throw new Error("the server publishes no ECDH-ES+A256KW key");
	const publicKey = await importJWK(jwk, "ECDH-ES+A256KW");
	const issuedAt = Math.floor(Date.now() / 1000);
	return new EncryptJWT({ domain: claims.domain, vm: claims.vm, key: claims.key })
		.setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM", kid: jwk.kid })
		.setJti(crypto.randomUUID())
		.setIssuedAt(issuedAt)
		.setExpirationTime(issuedAt + requestLifetimeSeconds)
		.encrypt(publicKey);
}

/** Renders the connect form; on submit, the console. */
export async function renderTerminal(root: HTMLElement) {
	const query = hashQuery();
	const field = (name: string, label: string, type = "text") =>
		h(
			"label",
			{},
			label,
			h("input", { name, type, required: true, autocomplete: "off", value: query.get(name) ?? "" }),
		);
	const status = h("p", { class: "status", id: "terminal-status" });
	const screen = h("div", { class: "terminal", id: "terminal" });
	const form = h(
		"form",
		{ class: "inline", id: "connect" },
		field("domain", "Domain"),
		field("vm", "VM id"),
		field("key", "Key", "password"),
		h("button", { type: "submit" }, "Connect"),
	);
	let close: (() => void) | undefined;
	form.addEventListener("submit", async (event) => {
		event.preventDefault();
		close?.();
		const data = new FormData(form);
		status.replaceChildren("Requesting a session…");
		try {
			const jwe = await buildSessionRequest({
				domain: String(data.get("domain")),
				vm: String(data.get("vm")),
				key: String(data.get("key")),
			});
			const session = await postSessionRequest(jwe);
			close = connect(session, screen, status);
		} catch (error) {
			status.replaceChildren(errorBox(describeError(error)));
		}
	});
	root.replaceChildren(h("h1", {}, "Terminal"), form, status, screen);
	return () => close?.();
}

function connect(session: SessionOpened, screen: HTMLElement, status: HTMLElement): () => void {
	screen.replaceChildren();
	const { terminal, dispose } = openTerminal(screen);
	const socket = dialConsole(session.userChannel.url);
	// Under v2 text frames are control messages: the console goes as binary, and the size is told.
	const speaksControls = () =>
		socket.protocol === consoleControlProtocol && socket.readyState === WebSocket.OPEN;
	const tellSize = () => {
		if (speaksControls()) socket.send(resizeControl({ cols: terminal.cols, rows: terminal.rows }));
	};
	status.replaceChildren(`Connecting to ${session.vmId} on ${session.hostId}…`);
	const connected = (vmHostId: string, moved: string) =>
		status.replaceChildren(
			h("span", { class: "state established" }, "connected"),
			` ${session.vmId} on ${vmHostId} · session ${session.sessionId}${moved}`,
		);
	socket.addEventListener("open", () => {
		connected(session.hostId, "");
		tellSize();
		terminal.focus();
	});
	const moved = (notice: ConsoleNotice) => {
		if (notice.type !== "vm_moved") return;
		connected(notice.vmHostId, ` · the VM moved to ${notice.vmHostId}; the session goes on`);
	};
	pipeSocketToTerminal(
		socket,
		terminal,
		(description) => {
			status.replaceChildren(h("span", { class: "state closed" }, "closed"), ` ${description}`);
		},
		moved,
	);
	const encoder = new TextEncoder();
	const input = terminal.onData((data) => {
		if (speaksControls()) socket.send(encoder.encode(data));
		else if (socket.readyState === WebSocket.OPEN) socket.send(data);
	});
	const resized = terminal.onResize(tellSize);
	return () => {
		input.dispose();
		resized.dispose();
		socket.close(1000, "user left");
		dispose();
	};
}
