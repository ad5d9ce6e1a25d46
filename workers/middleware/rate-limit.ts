import type { MiddlewareHandler } from "hono";
import { Problem } from "../../shared/problem";
import type { AppEnv } from "../app";

/**
 * The requester's address as Cloudflare's edge saw it (`CF-Connecting-IP`,
 * which the edge sets and clients cannot). Requests without one (only
 * possible off Cloudflare) share one bucket.
 */
export function clientAddress(request: Request): string {
	return request.headers.get("CF-Connecting-IP") ?? "unknown";
}

/** The period of both limits in wrangler.toml: a refused client may retry after it. */
const periodSeconds = 60;

/**
 * Refuses a client address over the binding's limit with `429 rate_limited`
 * and `Retry-After`, before the route does any work. The binding (Workers
 * Rate Limiting) counts per Cloudflare location and is eventually
 * consistent: a bound on abuse, not an exact quota.
 */
export const rateLimit = (
	binding: "SESSION_RATE_LIMIT" | "PUBLIC_RATE_LIMIT",
): MiddlewareHandler<AppEnv> =>
	async function rateLimit(c, next) {
		const { success } = await c.env[binding].limit({ key: clientAddress(c.req.raw) });
		if (!success) {
			throw new Problem("rate_limited", "too many requests from your address; retry later", {
				retryAfterSeconds: periodSeconds,
			});
		}
		await next();
	};
