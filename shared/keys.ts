import { randomToken, sha256Hex } from "./crypto";

/**
 * The secrets Edgevisor hands out. Each is shown once; the ones used only for
 * comparison (VM keys, agent tokens, channel tokens) are stored as SHA-256
 * hashes, while webhook secrets are kept because HMAC verification needs them.
 */

/** A VM key: base64url of 32 random bytes (API.md, the service-processor table). */
export function newVmKey(): string {
	return randomToken(32);
}

/** A host agent's bearer token. */
export function newAgentToken(): string {
	return randomToken(32);
}

/** A single-use WebSocket channel token. */
export function newChannelToken(): string {
	return randomToken(32);
}

/** A Standard Webhooks secret: `whsec_` + standard base64 of 32 random bytes. */
export function newWebhookSecret(): string {
	let binary = "";
	for (const byte of crypto.getRandomValues(new Uint8Array(32)))
		binary += String.fromCharCode(byte);
	return `whsec_${btoa(binary)}`;
}

/** How a compared-only secret is stored. */
export function hashSecret(secret: string): Promise<string> {
	return sha256Hex(secret);
}
