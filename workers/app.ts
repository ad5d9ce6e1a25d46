import type { Hook } from "@hono/zod-openapi";
import { OpenAPIHono } from "@hono/zod-openapi";
import { Problem } from "../shared/problem";

/** Hono environment shared by the Worker app and every route module. */
export type AppEnv = { Bindings: Env; Variables: { requestId: string } };

/** How a detail names where a field came from; hono's validator targets are internal names. */
const fieldSources: Record<string, string> = { json: "body", param: "path" };

/** Names the first failing field of a zod error, e.g. `body.sriov.vfStride: Too small`. */
function describeValidationFailure(
	target: string,
	issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
): string {
	const [first] = issues;
	const source = fieldSources[target] ?? target;
	if (!first) return `${source} is invalid`;
	const field = [source, ...first.path.map(String)].join(".");
	return `${field}: ${first.message}`;
}

/** A schema violation as `400 invalid_request` naming the field. */
export function invalidRequest(
	target: string,
	issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
): Problem {
	return new Problem("invalid_request", describeValidationFailure(target, issues));
}

/** Every schema violation becomes `400 invalid_request` naming the field. */
export const rejectInvalid: Hook<unknown, AppEnv, string, unknown> = (result) => {
	if (!result.success) throw invalidRequest(result.target, result.error.issues);
};

/** A route module: a Hono sub-app whose validation failures are problems. */
export function createRouter(): OpenAPIHono<AppEnv> {
	return new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalid });
}
