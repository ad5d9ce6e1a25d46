// Proves the JWE layer (shared/jwe.ts): the public JWKS derived from the
// private key set, decryption by kid over a ring of keys, and that every
// disallowed algorithm, unknown kid or undecryptable input is invalid_jwe
// without leaking jose's messages. Claim checks are proven in claims.test.ts.
import { base64url, exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { type KeyRing, loadKeyRing, openBroadcastRequest } from "../../shared/jwe";
import { claimsFor, encryptRequest } from "../support/jwe";

const base64urlDecode = base64url.decode;
const base64urlEncode = base64url.encode;

let ring: KeyRing;
const target = { domain: "dom-1", vm: "vm-1", key: "k" };
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function privateJwk(kid: string) {
	const { privateKey } = await generateKeyPair("ECDH-ES+A256KW", {
		crv: "P-256",
		extractable: true,
	});
	return { ...(await exportJWK(privateKey)), kid };
}

async function refusal(jwe: string): Promise<{ code?: string; message?: string }> {
	try {
		await openBroadcastRequest(jwe, ring, nowSeconds());
		return {};
	} catch (error) {
		return error as { code?: string; message?: string };
	}
}

beforeAll(async () => {
	ring = await loadKeyRing(JSON.stringify([await privateJwk("new"), await privateJwk("old")]));
});

describe("loadKeyRing", () => {
	it("publishes each key without its private part, in order", () => {
		expect(ring.publicKeys.map((key) => key.kid)).toEqual(["new", "old"]);
		for (const key of ring.publicKeys) {
			expect(key).not.toHaveProperty("d");
			expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", use: "enc" });
		}
	});

	it("refuses a key set that is not private P-256 JWKs with kids", async () => {
		for (const bad of ["[]", "{}", JSON.stringify([{ kty: "EC", crv: "P-256" }])]) {
			await expect(loadKeyRing(bad)).rejects.toThrow(/JWE_PRIVATE_KEYS/);
		}
	});
});

describe("openBroadcastRequest", () => {
	it("decrypts with the key the kid names, old or new", async () => {
		for (const publicKey of ring.publicKeys) {
			const claims = claimsFor(target);
			expect(
				await openBroadcastRequest(await encryptRequest(publicKey, claims), ring, nowSeconds()),
			).toEqual(claims);
		}
	});

	it("refuses a kid that names the wrong key of the ring", async () => {
		const [newKey, oldKey] = ring.publicKeys;
		if (!newKey || !oldKey) throw new Error("two keys expected");
		const jwe = await encryptRequest(newKey, claimsFor(target), { kid: oldKey.kid });
		expect(await refusal(jwe)).toMatchObject({ code: "invalid_jwe" });
	});

	it("refuses other algorithms with invalid_jwe", async () => {
		const [key] = ring.publicKeys;
		if (!key) throw new Error("key expected");
		for (const header of [
			{ alg: "ECDH-ES" },
			{ alg: "ECDH-ES+A128KW" },
			{ enc: "A128CBC-HS256" },
			{ enc: "A256CBC-HS512" },
		]) {
			expect(await refusal(await encryptRequest(key, claimsFor(target), header))).toMatchObject({
				code: "invalid_jwe",
			});
		}
	});

	it("refuses tampered ciphertext with a generic message", async () => {
		const [key] = ring.publicKeys;
		if (!key) throw new Error("key expected");
		const parts = (await encryptRequest(key, claimsFor(target))).split(".");
		const ciphertext = parts[3] ?? "";
		// The first character's six bits all belong to the first byte, so changing it always tampers.
		parts[3] = `${ciphertext.startsWith("A") ? "B" : "A"}${ciphertext.slice(1)}`;
		const problem = await refusal(parts.join("."));
		expect(problem).toMatchObject({ code: "invalid_jwe" });
		expect(problem.message).not.toMatch(/jose|JWE(Decryption|Invalid)/);
	});

	it("refuses a compact JWE with whitespace anywhere, even around it", async () => {
		const [key] = ring.publicKeys;
		if (!key) throw new Error("key expected");
		const jwe = await encryptRequest(key, claimsFor(target));
		const [header, ...rest] = jwe.split(".");
		for (const spaced of [
			`${jwe}\n`,
			` ${jwe}`,
			[`${header} `, ...rest].join("."),
			jwe.replace(".", ".\n"),
		]) {
			expect(await refusal(spaced)).toMatchObject({ code: "invalid_jwe" });
		}
	});

	it("refuses a zip header (RFC 8725 §3.6)", async () => {
		const [key] = ring.publicKeys;
		if (!key) throw new Error("key expected");
		const [header = "", ...rest] = (await encryptRequest(key, claimsFor(target))).split(".");
		const decoded = JSON.parse(new TextDecoder().decode(base64urlDecode(header)));
		const zipped = base64urlEncode(
			new TextEncoder().encode(JSON.stringify({ ...decoded, zip: "DEF" })),
		);
		expect(await refusal([zipped, ...rest].join("."))).toMatchObject({ code: "invalid_jwe" });
	});

	it("refuses anything that is not a compact JWE", async () => {
		for (const body of ["", "a.b.c", "a.b.c.d.e", "x".repeat(1000)]) {
			expect(await refusal(body)).toMatchObject({ code: "invalid_jwe" });
		}
	});
});
