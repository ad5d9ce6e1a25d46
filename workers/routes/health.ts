import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";

const health = createRoute({
	method: "get",
	path: "/healthz",
	operationId: "getHealth",
	security: [],
	tags: ["meta"],
	summary: "Liveness probe",
	responses: {
		200: {
			description: "The Worker is serving",
			content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } },
		},
		// The body limit holds for every route, this one too.
		...problemResponses("payload_too_large"),
	},
});

/** `GET /healthz`. */
export const healthRoutes = createRouter().openapi(health, (c) =>
	c.json({ ok: true as const }, 200),
);
