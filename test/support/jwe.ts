import { CompactEncrypt, importJWK, type JWK } from "jose";

/**
 * Builds broadcast session requests the way a user's device does: a compact
 * JWE (ECDH-ES+A256KW / A256GCM) of the claims, encrypted to a key from the
 * served JWKS. Plain jose, so it works in workerd and in Node (e2e).
 */

/** The claims of a broadcast request. */
export interface RequestClaims {
	domain: string;
	vm: string;
	key: string;
	jti: string;
	iat: number;
	exp: number;
}

/** Claims valid for 120 s from now with a fresh jti; `overrides` replace any. */
export function claimsFor(
	target: { domain: string; vm: string; key: string },
	overrides: Partial<Record<keyof RequestClaims, unknown>> = {},
): Record<string, unknown> {
	const iat = Math.floor(Date.now() / 1000);
	return { ...target, jti: crypto.randomUUID(), iat, exp: iat + 120, ...overrides };
}

/** Encrypts `payload` (any JSON, or raw bytes) to `jwk`; header fields may be overridden. */
export async function encryptRequest(
	jwk: JWK,
	payload: unknown,
	header: { alg?: string; enc?: string; kid?: string | null } = {},
): Promise<string> {
	const alg = header.alg ?? "ECDH-ES+A256KW";
	const key = await importJWK({ ...jwk, alg }, alg);
	const plaintext =
		payload instanceof Uint8Array ? payload : new TextEncoder().encode(JSON.stringify(payload));
	const kid = header.kid === null ? undefined : (header.kid ?? jwk.kid);
	return new CompactEncrypt(plaintext)
		.setProtectedHeader({ alg, enc: header.enc ?? "A256GCM", ...(kid ? { kid } : {}) })
		.encrypt(key);
}
