import { compactDecrypt, importJWK, type JWK } from "jose";
import { type BroadcastClaims, checkBroadcastClaims } from "./claims";
import { Problem } from "./problem";

/**
 * The broadcast request's JWE: decryption with an allowlist of algorithms and
 * kid-based key selection over the Worker's private key set. Uses only jose
 * and Web Crypto, so it runs in workerd and Node alike.
 */

/** The only algorithms a broadcast request may use (API.md). */
export const jweAlgorithms = {
	keyManagementAlgorithms: ["ECDH-ES+A256KW"],
	contentEncryptionAlgorithms: ["A256GCM"],
} as const;

/** A compact JWE: header, encrypted key, IV, ciphertext, tag. */
const compactJwe =
	/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A public key as `/.well-known/jwks.json` lists it. */
export interface PublicEncryptionJwk {
	kty: "EC";
	crv: "P-256";
	x: string;
	y: string;
	kid: string;
	alg: "ECDH-ES+A256KW";
	use: "enc";
}

/** Decryption keys by kid, in the order the key set lists them (newest first). */
export interface KeyRing {
	publicKeys: PublicEncryptionJwk[];
	privateKeys: Map<string, CryptoKey>;
}

function isPrivateEcJwk(value: unknown): value is JWK & { kid: string; x: string; y: string } {
	const jwk = value as Record<string, unknown>;
	return (
		typeof jwk === "object" &&
		jwk !== null &&
		jwk.kty === "EC" &&
		jwk.crv === "P-256" &&
		typeof jwk.kid === "string" &&
		typeof jwk.x === "string" &&
		typeof jwk.y === "string" &&
		typeof jwk.d === "string"
	);
}

/** Parses JWE_PRIVATE_KEYS (a JSON array of private P-256 JWKs with kid) into a key ring. */
export async function loadKeyRing(privateKeySetJson: string): Promise<KeyRing> {
	const parsed: unknown = JSON.parse(privateKeySetJson);
	if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every(isPrivateEcJwk)) {
		throw new Error("JWE_PRIVATE_KEYS must be a non-empty JSON array of private EC P-256 JWKs");
	}
	const privateKeys = new Map<string, CryptoKey>();
	const publicKeys: PublicEncryptionJwk[] = [];
	for (const jwk of parsed) {
		privateKeys.set(jwk.kid, (await importJWK(jwk, "ECDH-ES+A256KW")) as CryptoKey);
		publicKeys.push({
			kty: "EC",
			crv: "P-256",
			x: jwk.x,
			y: jwk.y,
			kid: jwk.kid,
			alg: "ECDH-ES+A256KW",
			use: "enc",
		});
	}
	return { publicKeys, privateKeys };
}

/**
 * Decrypts a compact JWE and checks its claims. Anything wrong — not a JWE,
 * another alg or enc, an unknown kid, a failed decryption, bad claims — is
 * `400 invalid_jwe`; jose's own messages never reach the client.
 */
export async function openBroadcastRequest(
	jwe: string,
	keyRing: KeyRing,
	nowSeconds: number,
): Promise<BroadcastClaims> {
	// The compact serialization exactly: five base64url parts, no whitespace anywhere.
	if (!compactJwe.test(jwe)) {
		throw new Problem("invalid_jwe", "not a compact JWE (five base64url parts, no whitespace)");
	}
	let plaintext: Uint8Array;
	try {
		const result = await compactDecrypt(
			jwe,
			(header) => {
				// RFC 8725 §3.6: compression before encryption leaks the plaintext's content.
				if (header.zip !== undefined) {
					throw new Problem("invalid_jwe", "a zip header is refused (RFC 8725 §3.6)");
				}
				const key = header.kid === undefined ? undefined : keyRing.privateKeys.get(header.kid);
				if (!key) throw new Problem("invalid_jwe", "unknown or missing kid");
				return key;
			},
			{
				keyManagementAlgorithms: [...jweAlgorithms.keyManagementAlgorithms],
				contentEncryptionAlgorithms: [...jweAlgorithms.contentEncryptionAlgorithms],
			},
		);
		plaintext = result.plaintext;
	} catch (error) {
		if (error instanceof Problem) throw error;
		throw new Problem("invalid_jwe", "not a decryptable compact JWE with ECDH-ES+A256KW/A256GCM");
	}
	let payload: unknown;
	try {
		payload = JSON.parse(new TextDecoder().decode(plaintext));
	} catch {
		throw new Problem("invalid_jwe", "plaintext is not a JSON claims set");
	}
	return checkBroadcastClaims(payload, nowSeconds);
}
