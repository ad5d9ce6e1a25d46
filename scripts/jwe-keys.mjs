// Generates the Worker's JWE private key set (JWE_PRIVATE_KEYS): EC P-256 keys
// for ECDH-ES+A256KW, each with a kid, newest first.
import { exportJWK, generateKeyPair } from "jose";

/** A fresh private JWK for ECDH-ES+A256KW with a date-stamped kid. */
export async function generateJweKey() {
	const { privateKey } = await generateKeyPair("ECDH-ES+A256KW", {
		crv: "P-256",
		extractable: true,
	});
	const jwk = await exportJWK(privateKey);
	const kid = `enc-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`;
	return { ...jwk, kid, alg: "ECDH-ES+A256KW", use: "enc" };
}

/** The JSON value of JWE_PRIVATE_KEYS for a new key set of `count` keys. */
export async function generateJweKeySet(count = 1) {
	const keys = [];
	for (let index = 0; index < count; index++) keys.push(await generateJweKey());
	return JSON.stringify(keys);
}
