import type { Context, MiddlewareHandler } from "hono";
import { constantTimeEqual } from "../../shared/crypto";
import { Problem } from "../../shared/problem";
import type { AppEnv } from "../app";

/** The bearer token of a request, or undefined when there is none. */
export function bearerToken(c: Context): string | undefined {
	const header = c.req.header("Authorization");
	const match = header?.match(/^Bearer\s+(\S+)$/i);
	return match?.[1];
}

/** True when the request carries the admin token (compared in constant time). */
export async function isAdmin(c: Context<AppEnv>): Promise<boolean> {
	const token = bearerToken(c);
	const adminToken = c.env.ADMIN_TOKEN;
	if (!token || !adminToken) return false;
	return constantTimeEqual(token, adminToken);
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
