// A small client of the public API for benchmarks: hosts, VMs, a host agent
// that acks commands (and optionally runs an echo console), and broadcast
// session requests built with jose from the served JWKS.
import { EncryptJWT, importJWK } from "jose";
import WebSocket from "ws";
import { createAckBatcher } from "../../agent/ack-batcher.mjs";

/** JSON request with the admin token; throws with the problem on failure. */
export async function adminRequest(baseUrl, adminToken, method, path, body) {
	const response = await fetch(`${baseUrl}${path}`, {
		method,
		headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await response.text();
	if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text}`);
	return text ? JSON.parse(text) : undefined;
}

/** Registers a host in `domain`; returns its one-time secrets. */
export function createHost(baseUrl, adminToken, hostId, domain, site = "bench-site") {
	return adminRequest(baseUrl, adminToken, "PUT", `/v1/hosts/${hostId}`, {
		domain,
		site,
		cpu: { model: "EPYC-Milan", flags: ["avx2", "sse4_2"] },
		memoryMiB: 524288,
		hypervisor: { name: "kvm", version: "8.2" },
	});
}

/** Enrols a VM on a host; returns `{key, keyVersion}`. */
export function enrolVm(baseUrl, adminToken, hostId, vmId) {
	return adminRequest(baseUrl, adminToken, "PUT", `/v1/hosts/${hostId}/vms/${vmId}`, {
		memoryMiB: 4096,
		vcpus: 2,
	});
}

/**
 * Connects a host agent that acks every command (batched per event-loop turn, as the real agent). With `echoConsole`, it also
 * dials each `session.open` channel and echoes every frame back, like a VM
 * console that repeats what it is sent.
 */
export async function connectAgent(baseUrl, hostId, agentToken, { echoConsole = false } = {}) {
	const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/v1/hosts/${hostId}/agent`, {
		headers: { Authorization: `Bearer ${agentToken}` },
		// As the real agent (agent/host-agent.mjs): no deflate on small frames.
		perMessageDeflate: false,
	});
	const consoles = new Set();
	const acks = createAckBatcher((frame) => socket.send(frame));
	socket.on("message", (data) => {
		const command = JSON.parse(String(data));
		acks.ack(command.id);
		if (echoConsole && command.type === "session.open") {
			const vmSide = new WebSocket(command.channel.url, { perMessageDeflate: false });
			vmSide.on("message", (frame, isBinary) => vmSide.send(frame, { binary: isBinary }));
			consoles.add(vmSide);
		}
	});
	await new Promise((resolve, reject) => {
		socket.once("open", resolve);
		socket.once("error", reject);
	});
	return {
		close() {
			for (const vmSide of consoles) vmSide.close();
			socket.close();
		},
	};
}

/** Fetches the JWKS once and returns a function that encrypts a broadcast request. */
export async function broadcastEncrypter(baseUrl) {
	const { keys } = await (await fetch(`${baseUrl}/.well-known/jwks.json`)).json();
	const [jwk] = keys;
	const publicKey = await importJWK(jwk, "ECDH-ES+A256KW");
	return ({ domain, vm, key }) =>
		new EncryptJWT({ domain, vm, key })
			.setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM", kid: jwk.kid })
			.setJti(crypto.randomUUID())
			.setIssuedAt()
			.setExpirationTime("120s")
			.encrypt(publicKey);
}

/**
 * POSTs a compact JWE to /v1/sessions as a user of its own; returns the
 * response. The session rate limit holds per client address (100 a minute)
 * and the benchmark measures establishment, so each request names a fresh
 * address, as wrangler dev lets a client (Cloudflare's edge sets it itself).
 */
export function requestSession(baseUrl, jwe) {
	return fetch(`${baseUrl}/v1/sessions`, {
		method: "POST",
		headers: { "Content-Type": "application/jose", "CF-Connecting-IP": randomAddress() },
		body: jwe,
	});
}

/** An address in the TEST-NET-2 block (RFC 5737). */
function randomAddress() {
	const [a, b] = crypto.getRandomValues(new Uint8Array(2));
	return `198.51.${a}.${b}`;
}

/** Opens a WebSocket and resolves once it is open. */
export function openSocket(url) {
	const socket = new WebSocket(url);
	return new Promise((resolve, reject) => {
		socket.once("open", () => resolve(socket));
		socket.once("error", reject);
	});
}
