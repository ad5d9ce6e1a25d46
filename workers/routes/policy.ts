import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { Problem } from "../../shared/problem";
import { compilePolicy, PolicyError } from "../../shared/risk";
import { MigrationPolicy, MigrationPolicyInput } from "../../shared/schemas/migrations";
import { problemResponses } from "../../shared/schemas/openapi";
import { type AppEnv, createRouter, invalidRequest } from "../app";
import { adminSecurity, requireAdmin } from "../middleware/auth";
import { fleet } from "../stubs";

/** Routes for the migration policy; see ../shared/API.md ("Migrations"). */
export const policyRoutes = createRouter();

const policyResponse = {
	200: {
		description: "The policy in force",
		content: { "application/json": { schema: MigrationPolicy } },
	},
};

policyRoutes.openapi(
	createRoute({
		method: "get",
		path: "/v1/migration-policy",
		operationId: "getMigrationPolicy",
		tags: ["migrations"],
		summary: "The migration risk policy in force",
		security: adminSecurity,
		middleware: [requireAdmin()],
		responses: { ...policyResponse, ...problemResponses("unauthorized") },
	}),
	async (c) => c.json(await fleet(c.env).getPolicy(), 200),
);

/**
 * The body as a policy in force: every issue of a policy-shaped body (the
 * kinds' rules included: a builtin subtask without a check, an agent subtask
 * with one) is refused together as `invalid_policy`; a body that is not
 * policy-shaped at all is left to the schema (`invalid_request`). Stored in
 * the document's shape (fields a subtask's kind does not have are dropped).
 */
async function policyIn(c: Context<AppEnv>): Promise<MigrationPolicy | undefined> {
	const input = MigrationPolicyInput.safeParse(await c.req.json());
	if (!input.success) return undefined;
	try {
		compilePolicy(input.data);
	} catch (error) {
		if (error instanceof PolicyError) throw new Problem("invalid_policy", error.message);
		throw error;
	}
	return MigrationPolicy.parse(input.data);
}

/** A body the schema refused: `invalid_policy` if it is a policy with issues, else `invalid_request`. */
async function refused(
	target: string,
	issues: Parameters<typeof invalidRequest>[1],
	c: Context<AppEnv>,
): Promise<never> {
	if (target === "json") await policyIn(c);
	throw invalidRequest(target, issues);
}

policyRoutes.openapi(
	createRoute({
		method: "put",
		path: "/v1/migration-policy",
		operationId: "putMigrationPolicy",
		tags: ["migrations"],
		summary: "Replace the migration risk policy",
		description:
			"Every score must compile to a number and every builtin check to a bool (checked against sample records), rule and set ids must be unique, every rule must name an existing set, and every subtask must be of its kind (a builtin one has a check and no timeout, an agent one no check); otherwise `400 invalid_policy` lists every issue.",
		security: adminSecurity,
		middleware: [requireAdmin()],
		request: {
			body: { required: true, content: { "application/json": { schema: MigrationPolicy } } },
		},
		responses: {
			...policyResponse,
			...problemResponses("invalid_request", "unauthorized", "invalid_policy", "payload_too_large"),
		},
	}),
	async (c) => {
		// Read again as sent: the schema drops fields a kind does not have, which are issues here.
		const policy = await policyIn(c);
		// The schema accepted the body, so it is policy-shaped: never store one unchecked.
		if (!policy) throw new Problem("internal", "an accepted policy body did not read as a policy");
		return c.json(await fleet(c.env).putPolicy(policy), 200);
	},
	(result, c) => (result.success ? undefined : refused(result.target, result.error.issues, c)),
);
