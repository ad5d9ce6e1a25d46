// Proves the secrets' formats and storage: VM keys, agent and channel tokens
// are base64url of 32 random bytes, webhook secrets are Standard Webhooks
// `whsec_` secrets the standardwebhooks package accepts, and hashing is the
// SHA-256 hex that constant-time comparison is done on.
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { digestsEqual } from "../../shared/crypto";
import {
	hashSecret,
	newAgentToken,
	newChannelToken,
	newVmKey,
	newWebhookSecret,
} from "../../shared/keys";

const decodeBase64url = (value: string) =>
	Uint8Array.from(atob(value.replaceAll("-", "+").replaceAll("_", "/")), (char) =>
		char.charCodeAt(0),
	);

describe("secrets", () => {
	it("mints VM keys, agent tokens and channel tokens as base64url of 32 bytes", () => {
		for (const mint of [newVmKey, newAgentToken, newChannelToken]) {
			const value = mint();
			expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
			expect(decodeBase64url(value)).toHaveLength(32);
		}
	});

	it("never mints the same key twice in a thousand", () => {
		expect(new Set(Array.from({ length: 1000 }, newVmKey)).size).toBe(1000);
	});

	it("mints webhook secrets the standardwebhooks package signs and verifies with", () => {
		const secret = newWebhookSecret();
		expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
		const webhook = new Webhook(secret);
		const at = new Date();
		const body = '{"type":"host.facts","data":{}}';
		const headers = {
			"webhook-id": "msg_1",
			"webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
			"webhook-signature": webhook.sign("msg_1", at, body),
		};
		expect(webhook.verify(body, headers)).toEqual({ type: "host.facts", data: {} });
	});
});

describe("hashSecret", () => {
	it("is SHA-256 as 64 lowercase hex digits, deterministic", async () => {
		await fc.assert(
			fc.asyncProperty(fc.string(), async (secret) => {
				const hash = await hashSecret(secret);
				expect(hash).toMatch(/^[0-9a-f]{64}$/);
				expect(await hashSecret(secret)).toBe(hash);
			}),
		);
	});

	it("matches a known vector", async () => {
		expect(await hashSecret("abc")).toBe(
			"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		);
	});

	it("compares two digests as equal only when they are the same digest", async () => {
		await fc.assert(
			fc.asyncProperty(fc.string(), fc.string(), async (a, b) => {
				const [left, right] = [await hashSecret(a), await hashSecret(b)];
				expect(digestsEqual(left, right)).toBe(a === b);
				expect(digestsEqual(left, left.slice(1))).toBe(false);
			}),
		);
	});
});
