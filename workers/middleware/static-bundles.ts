import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app";

/** Where the static bundles live: the web console's (web/src) and the API reference's renderer. */
const bundlePrefixes = ["/console/", "/docs/"];

/**
 * Hands a request for a static bundle, as it came, to the Worker that serves
 * them (edgevisor-static, wrangler.static.toml) and answers with what it
 * answers: its headers (dist/assets/_headers), none of the API's, no rate
 * limit. Mounted before every other middleware.
 *
 * The bundles are a Worker of their own because a Worker with an `[assets]`
 * block sits behind Cloudflare's asset router, a hop every API request paid
 * even with `run_worker_first`: under wrangler dev it was a sixth of a
 * translate's CPU (issue 16 item 8). Matched on the raw path, as the router's
 * `/console/*` and `/docs/*` rules matched it.
 */
export const staticBundles = (): MiddlewareHandler<AppEnv> =>
	async function staticBundles(c, next) {
		const { pathname } = new URL(c.req.url);
		if (bundlePrefixes.some((prefix) => pathname.startsWith(prefix))) {
			return c.env.STATIC.fetch(c.req.raw);
		}
		await next();
	};
