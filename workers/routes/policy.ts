import { createRoute } from "@hono/zod-openapi";
import { Problem } from "../../shared/problem";
import { compilePolicy, PolicyError } from "../../shared/risk";
import { MigrationPolicy } from "../../shared/schemas/migrations";
import { problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";
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

policyRoutes.openapi(
	createRoute({
		method: "put",
		path: "/v1/migration-policy",
		operationId: "putMigrationPolicy",
		tags: ["migrations"],
		summary: "Replace the migration risk policy",
		description:
			"Every score must compile to a number and every builtin check to a bool (checked against sample records), rule and set ids must be unique, and every rule must name an existing set; otherwise `400 invalid_policy` lists every issue.",
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
		const policy = c.req.valid("json");
		try {
			compilePolicy(policy);
		} catch (error) {
			if (error instanceof PolicyError) throw new Problem("invalid_policy", error.message);
			throw error;
		}
		return c.json(await fleet(c.env).putPolicy(policy), 200);
	},
);
