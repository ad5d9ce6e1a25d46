import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { PatternRouter } from "hono/router/pattern-router";
import { log } from "../shared/log";
import { asProblem, type ProblemCode, problemDetails } from "../shared/problem";
import type { AppEnv } from "./app";

/** Renders an RFC 9457 problem response. */
export function problemResponse(
	c: Context,
	code: ProblemCode,
	detail: string,
	headers: Record<string, string> = {},
): Response {
	const body = problemDetails(code, detail);
	return c.body(JSON.stringify(body), body.status as 400, {
		...headers,
		"Content-Type": "application/problem+json",
	});
}

/** The one error handler: known problems as themselves, anything else as `internal`. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
	const problem = asProblem(error);
	if (problem) {
		const headers: Record<string, string> = {};
		if (problem.retryAfterSeconds !== undefined) {
			headers["Retry-After"] = String(Math.max(1, Math.ceil(problem.retryAfterSeconds)));
		}
		return problemResponse(c, problem.code, problem.message, headers);
	}
	if (error instanceof HTTPException && error.status < 500) {
		// Hono's own middleware (e.g. a malformed JSON body) throws these. Its 415
		// comes from the body validators, and every route with one takes JSON.
		const detail =
			error.status === 415
				? "header.content-type: must be application/json"
				: error.message || "invalid request";
		return problemResponse(c, "invalid_request", detail);
	}
	log("error", "unhandled error", {
		requestId: c.get("requestId"),
		method: c.req.method,
		path: c.req.path,
		error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
	});
	return problemResponse(c, "internal", "internal error; see the server log for this request id");
};

/**
 * Unknown routes are `404 not_found`; a known path with another method is
 * `405 method_not_allowed` with `Allow`. Hono has no 405 of its own, so the
 * registered routes are indexed once in Hono's own router, keyed by path.
 */
export function notFoundHandler(routes: () => ReadonlyArray<{ method: string; path: string }>) {
	let methodsByPath: PatternRouter<string> | undefined;
	return (c: Context<AppEnv>): Response => {
		if (!methodsByPath) {
			methodsByPath = new PatternRouter<string>();
			for (const route of routes()) {
				if (route.method !== "ALL") methodsByPath.add("ALL", route.path, route.method);
			}
		}
		// The app's router is strict about a trailing slash; this index is not.
		const path = c.req.path;
		const strictMiss = path.length > 1 && path.endsWith("/");
		const [matches] = strictMiss ? [[]] : methodsByPath.match("ALL", path);
		const allowed = [...new Set(matches.map(([method]) => method))];
		if (allowed.length > 0) {
			return problemResponse(c, "method_not_allowed", `${c.req.method} is not allowed here`, {
				Allow: allowed.join(", "),
			});
		}
		return problemResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`);
	};
}
