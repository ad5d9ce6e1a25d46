import { z } from "@hono/zod-openapi";
import { Identifier } from "./ids";
import { Problem } from "./problem";

/**
 * Claim checks for a broadcast session request (API.md, "Broadcast session
 * request"). Pure: the caller passes the decrypted payload and the clock.
 */

/** The longest lifetime a request may have, `exp − iat`. */
export const maxRequestLifetimeSeconds = 300;

/**
 * How far `iat` may lie in the future. A little skew between the user's clock
 * and ours is normal; more would let a request outlive its 300 s lifetime here.
 */
export const maxClockSkewSeconds = 60;

const NumericDate = z.number().int().nonnegative();

const ClaimsShape = z.object({
	domain: Identifier,
	vm: Identifier,
	key: z.string().min(1).max(512),
	jti: z.string().min(1).max(256),
	iat: NumericDate,
	exp: NumericDate,
	nbf: NumericDate.optional(),
});

/** The claims of a valid broadcast session request. */
export type BroadcastClaims = z.infer<typeof ClaimsShape>;

/** Validates the decrypted claims set; every refusal is `400 invalid_jwe` naming the claim. */
export function checkBroadcastClaims(payload: unknown, nowSeconds: number): BroadcastClaims {
	const parsed = ClaimsShape.safeParse(payload);
	if (!parsed.success) {
		const [issue] = parsed.error.issues;
		const claim = issue?.path.map(String).join(".") || "claims";
		throw new Problem("invalid_jwe", `claim ${claim}: ${issue?.message ?? "invalid"}`);
	}
	const claims = parsed.data;
	if (claims.exp <= nowSeconds) throw new Problem("invalid_jwe", "claim exp: request expired");
	if (claims.iat >= claims.exp) throw new Problem("invalid_jwe", "claim iat: must be before exp");
	if (claims.exp - claims.iat > maxRequestLifetimeSeconds) {
		throw new Problem(
			"invalid_jwe",
			`claim exp: lifetime exp − iat over ${maxRequestLifetimeSeconds} s`,
		);
	}
	if (claims.iat > nowSeconds + maxClockSkewSeconds) {
		throw new Problem("invalid_jwe", "claim iat: issued in the future");
	}
	if (claims.nbf !== undefined && claims.nbf > nowSeconds) {
		throw new Problem("invalid_jwe", "claim nbf: not valid yet");
	}
	return claims;
}
