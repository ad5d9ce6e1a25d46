// Proves what a stranger can make Edgevisor do and store (API.md:
// `rate_limited`; issue 14's attacks): session requests and the routes that
// need no credential are limited per client address (the Workers Rate
// Limiting binding, emulated by miniflare), before any decryption, without
// touching other addresses; and requests for made-up VM ids cost a domain no
// storage. The key lockout per address is in sessions.test.ts.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hostWithVm, postSession, requestSession, servedKeys } from "../support/console";
import { call, newClientAddress, problemOf } from "../support/http";
import { claimsFor, encryptRequest } from "../support/jwe";
import { broadcastDomainStub } from "../support/objects";

/**
 * Sends `send()` until it is refused with 429, at most `2 × limit + 1` times
 * (the emulated limit counts in windows aligned to the clock, so a run that
 * straddles a boundary starts counting again); returns how many passed first
 * and the refusal.
 */
async function untilLimited(limit: number, send: () => Promise<Response>) {
	for (let passed = 0; passed <= 2 * limit; passed++) {
		const response = await send();
		if (response.status === 429) return { passed, refusal: response };
		await response.body?.cancel();
	}
	throw new Error(`never limited after ${2 * limit + 1} requests`);
}

async function expectRateLimited(response: Response) {
	expect(response.status).toBe(429);
	expect(response.headers.get("Content-Type")).toBe("application/problem+json");
	expect(response.headers.get("Retry-After")).toBe("60");
	expect((await problemOf(response)).code).toBe("rate_limited");
}

describe("POST /v1/sessions rate limit", () => {
	it("refuses an address past 100 requests a minute with rate_limited, before decrypting anything", async () => {
		const host = await hostWithVm();
		const client = newClientAddress();
		// Garbage is counted too: the limit comes before any decryption.
		const { passed, refusal } = await untilLimited(100, () =>
			postSession("not.a.jwe.at.all", undefined, client),
		);
		expect(passed).toBeGreaterThanOrEqual(100);
		await expectRateLimited(refusal);

		// A good request from the limited address is refused and leaves nothing behind:
		const [jwk] = await servedKeys();
		if (!jwk) throw new Error("no served key");
		const jwe = await encryptRequest(
			jwk,
			claimsFor({ domain: host.domain, vm: host.vmId, key: host.key }),
		);
		await expectRateLimited(await postSession(jwe, undefined, client));
		// its jti was never seen, so the same request from another address opens.
		expect((await postSession(jwe, undefined, newClientAddress())).status).toBe(201);
	});

	it("never limits another address", async () => {
		const host = await hostWithVm();
		const noisy = newClientAddress();
		await untilLimited(100, () => postSession("x", undefined, noisy));
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		expect((await requestSession(right, {}, newClientAddress())).status).toBe(201);
	});
});

describe("public routes rate limit", () => {
	it("refuses an address past 600 requests a minute on the routes that need no credential", async () => {
		const client = newClientAddress();
		const headers = { "CF-Connecting-IP": client };
		const { passed, refusal } = await untilLimited(600, () =>
			call("/.well-known/jwks.json", { headers }),
		);
		expect(passed).toBeGreaterThanOrEqual(600);
		await expectRateLimited(refusal);
		// One limit for all of them, per address.
		await expectRateLimited(await call("/openapi.json", { headers }));
		expect((await call("/openapi.json")).status).toBe(200);
	});
});

describe("what a stranger can make a domain store", () => {
	it("stores nothing for requests that name made-up VM ids", async () => {
		const host = await hostWithVm();
		const domain = broadcastDomainStub(host.domain);
		const rows = () =>
			runInDurableObject(domain, (_instance, state) =>
				["seen_jtis", "holders", "members"].map(
					(table) => state.storage.sql.exec(`SELECT 1 FROM ${table}`).toArray().length,
				),
			);
		const before = await rows();
		const refusals = await Promise.all(
			Array.from({ length: 40 }, (_, index) =>
				requestSession({ domain: host.domain, vm: `made-up-${index}`, key: "guess" }),
			),
		);
		for (const refusal of refusals) {
			expect(refusal.status).toBe(404);
			expect((await problemOf(refusal)).code).toBe("vm_not_found");
		}
		expect(await rows()).toEqual(before);
		// A replay of a request for a VM the domain's member holds is still refused.
		const right = { domain: host.domain, vm: host.vmId, key: host.key };
		const jti = crypto.randomUUID();
		expect((await requestSession(right, { jti })).status).toBe(201);
		expect((await requestSession(right, { jti })).status).toBe(409);
	});
});
