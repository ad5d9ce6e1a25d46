import type { Context, MiddlewareHandler } from "hono";
import { digestsEqual, sha256Hex } from "../../shared/crypto";
import { Problem } from "../../shared/problem";
import type { AppEnv } from "../app";

/** The bearer token of a request, or undefined when there is none. */
export function bearerToken(c: Context): string | undefined {
	const header = c.req.header("Authorization");
	const match = header?.match(/^Bearer\s+(\S+)$/i);
	return match?.[1];
}

/** The admin token's digest, per isolate, recomputed if the secret changes. */
let adminDigest: { token: string; digest: Promise<string> } | undefined;

/**
 * True when the request carries the admin token: the presented token's
 * digest is compared with the secret's in constant time (the secret's digest
 * is computed once per isolate).
 */
export async function isAdmin(c: Context<AppEnv>): Promise<boolean> {
	const token = bearerToken(c);
	const adminToken = c.env.ADMIN_TOKEN;
	if (!token || !adminToken) return false;
	if (adminDigest?.token !== adminToken) {
		adminDigest = { token: adminToken, digest: sha256Hex(adminToken) };
	}
	const [presented, expected] = await Promise.all([sha256Hex(token), adminDigest.digest]);
	return digestsEqual(presented, expected);
}

/** Refuses requests without the admin token with `401 unauthorized`. */
export const requireAdmin = (): MiddlewareHandler<AppEnv> =>
	async function requireAdmin(c, next) {
		if (!(await isAdmin(c)))
			throw new Problem("unauthorized", "admin bearer token missing or wrong");
		await next();
	};

/** OpenAPI security requirement for admin routes. */
export const adminSecurity = [{ adminToken: [] }];
