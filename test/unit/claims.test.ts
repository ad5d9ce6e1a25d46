// Proves the broadcast claim checks (shared/claims.ts) as properties: every
// well-formed claims set within its lifetime passes unchanged; expiry,
// lifetimes over 300 s, iat after exp or far in the future, and missing or
// mistyped claims are all invalid_jwe. Does not cover decryption (jwe.test.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	checkBroadcastClaims,
	maxClockSkewSeconds,
	maxRequestLifetimeSeconds,
} from "../../shared/claims";

const identifier = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
const now = 1_800_000_000;

const validClaims = fc
	.record({
		domain: identifier,
		vm: identifier,
		key: fc.string({ minLength: 1, maxLength: 64 }),
		jti: fc.string({ minLength: 1, maxLength: 64 }),
		lifetime: fc.integer({ min: 1, max: maxRequestLifetimeSeconds }),
		remaining: fc.integer({ min: 1, max: maxRequestLifetimeSeconds }),
	})
	.filter(({ lifetime, remaining }) => remaining <= lifetime + maxClockSkewSeconds)
	.map(({ lifetime, remaining, ...rest }) => ({
		...rest,
		exp: now + remaining,
		iat: now + remaining - lifetime,
	}));

function codeOf(run: () => unknown): string | undefined {
	try {
		run();
		return undefined;
	} catch (error) {
		return (error as { code?: string }).code;
	}
}

describe("checkBroadcastClaims", () => {
	it("accepts every well-formed claims set that has not expired", () => {
		fc.assert(
			fc.property(validClaims, (claims) => {
				expect(checkBroadcastClaims(claims, now)).toEqual(claims);
			}),
		);
	});

	it("ignores extra claims", () => {
		fc.assert(
			fc.property(validClaims, fc.string(), (claims, extra) => {
				expect(checkBroadcastClaims({ ...claims, note: extra }, now)).toEqual(claims);
			}),
		);
	});

	it("refuses every request whose exp is not after now", () => {
		fc.assert(
			fc.property(validClaims, fc.integer({ min: 0, max: 10_000 }), (claims, pastSeconds) => {
				const expired = { ...claims, exp: now - pastSeconds, iat: now - pastSeconds - 10 };
				expect(codeOf(() => checkBroadcastClaims(expired, now))).toBe("invalid_jwe");
			}),
		);
	});

	it("refuses every lifetime over 300 s", () => {
		fc.assert(
			fc.property(validClaims, fc.integer({ min: 1, max: 100_000 }), (claims, overSeconds) => {
				const long = { ...claims, iat: claims.exp - maxRequestLifetimeSeconds - overSeconds };
				expect(codeOf(() => checkBroadcastClaims(long, now))).toBe("invalid_jwe");
			}),
		);
	});

	it("accepts a lifetime of exactly 300 s", () => {
		const claims = { domain: "d", vm: "v", key: "k", jti: "j", iat: now, exp: now + 300 };
		expect(checkBroadcastClaims(claims, now)).toEqual(claims);
	});

	it("refuses iat at or after exp", () => {
		fc.assert(
			fc.property(validClaims, fc.integer({ min: 0, max: 100 }), (claims, afterSeconds) => {
				const inverted = { ...claims, iat: claims.exp + afterSeconds };
				expect(codeOf(() => checkBroadcastClaims(inverted, now))).toBe("invalid_jwe");
			}),
		);
	});

	it("refuses iat more than the clock skew in the future", () => {
		const claims = {
			domain: "d",
			vm: "v",
			key: "k",
			jti: "j",
			iat: now + maxClockSkewSeconds + 1,
			exp: now + maxClockSkewSeconds + 100,
		};
		expect(codeOf(() => checkBroadcastClaims(claims, now))).toBe("invalid_jwe");
	});

	it("refuses every nbf still in the future, and accepts one that has passed", () => {
		fc.assert(
			fc.property(validClaims, fc.integer({ min: 1, max: 10_000 }), (claims, aheadSeconds) => {
				const notYet = { ...claims, nbf: now + aheadSeconds };
				expect(() => checkBroadcastClaims(notYet, now)).toThrow(/claim nbf/);
				expect(checkBroadcastClaims({ ...claims, nbf: now }, now)).toMatchObject({ nbf: now });
			}),
		);
	});

	it("refuses a claims set missing any one claim, naming it", () => {
		const names = ["domain", "vm", "key", "jti", "iat", "exp"] as const;
		fc.assert(
			fc.property(validClaims, fc.constantFrom(...names), (claims, missing) => {
				const { [missing]: _dropped, ...rest } = claims;
				try {
					checkBroadcastClaims(rest, now);
					expect.unreachable();
				} catch (error) {
					expect(error).toMatchObject({ code: "invalid_jwe" });
					expect((error as Error).message).toContain(missing);
				}
			}),
		);
	});

	it("refuses non-integer or non-numeric times and non-identifier ids", () => {
		const base = { domain: "d", vm: "v", key: "k", jti: "j", iat: now, exp: now + 60 };
		for (const bad of [
			{ exp: "soon" },
			{ exp: now + 60.5 },
			{ iat: null },
			{ domain: "bad domain" },
			{ vm: "-starts-with-dash" },
			{ key: "" },
			{ jti: 42 },
		]) {
			expect(codeOf(() => checkBroadcastClaims({ ...base, ...bad }, now))).toBe("invalid_jwe");
		}
	});

	it("refuses payloads that are not objects", () => {
		for (const payload of [null, "claims", 42, []]) {
			expect(codeOf(() => checkBroadcastClaims(payload, now))).toBe("invalid_jwe");
		}
	});
});
