/**
 * Small crypto helpers on the Web Crypto API (available in workerd and Node),
 * so they carry no runtime-specific imports.
 */

const encoder = new TextEncoder();

/** base64url without padding, the encoding of every token we hand out. */
export function base64url(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A fresh secret of `byteLength` random bytes, base64url encoded. */
export function randomToken(byteLength = 32): string {
	return base64url(crypto.getRandomValues(new Uint8Array(byteLength)));
}

/** Two hex digits of each byte value, so a digest is hex-encoded by lookups. */
const hexOfByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** SHA-256 of a UTF-8 string as lowercase hex; how secrets are stored. */
export async function sha256Hex(value: string): Promise<string> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
	let hex = "";
	for (const byte of digest) hex += hexOfByte[byte];
	return hex;
}

/**
 * Compares two hex digests of one hash function in time that does not depend
 * on where they differ. Their length is fixed by the hash, so it reveals
 * nothing about a secret. Hand-written because `timingSafeEqual` exists in
 * workerd but not in the Web Crypto standard; compare digests of secrets,
 * never the secrets themselves.
 */
export function digestsEqual(left: string, right: string): boolean {
	if (left.length !== right.length) return false;
	let difference = 0;
	for (let index = 0; index < left.length; index++) {
		difference |= left.charCodeAt(index) ^ right.charCodeAt(index);
	}
	return difference === 0;
}
