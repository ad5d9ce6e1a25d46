import { createRoute, z } from "@hono/zod-openapi";
import { HostIdParam } from "../../shared/ids";
import { Problem } from "../../shared/problem";
import { WebhookEvent } from "../../shared/schemas/migrations";
import { problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";
import { virtualMachine } from "../migration-objects";
import { fleet, serviceProcessor } from "../stubs";

/** Routes for agent webhooks; see ../shared/API.md ("Agent webhooks"). */
export const webhookRoutes = createRouter();

webhookRoutes.openAPIRegistry.register("WebhookEvent", WebhookEvent);

const WebhookAnswer = z
	.object({
		received: z.literal(true),
		duplicate: z.boolean(),
		applied: z.boolean().openapi({ description: "whether the event changed anything" }),
	})
	.openapi("WebhookAnswer");

const signatureHeaders = ["webhook-id", "webhook-timestamp", "webhook-signature"] as const;

/** Names the first failing field of an event, as the other routes do. */
function parseEvent(payload: unknown): WebhookEvent {
	const result = WebhookEvent.safeParse(payload);
	if (result.success) return result.data;
	const [issue] = result.error.issues;
	const field = ["body", ...(issue?.path ?? []).map(String)].join(".");
	throw new Problem("invalid_request", `${field}: ${issue?.message ?? "invalid event"}`);
}

webhookRoutes.openapi(
	createRoute({
		method: "post",
		path: "/v1/hosts/{hostId}/webhooks",
		tags: ["webhooks"],
		summary: "Signed events from a host's hypervisor agent",
		description:
			"Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) signed with the host's `webhookSecret` over the raw JSON body `{type, data}` (schema `WebhookEvent`): `host.facts`, `validation.result`, `migration.progress`, `migration.completed`, `migration.failed`. `401 invalid_signature`; `400 stale_timestamp` beyond 300 s; a repeated `webhook-id` answers 200 with no second effect.",
		// No body schema here on purpose: a validator would parse (and re-serialise) the body
		// before the signature over its raw bytes is checked. It is parsed after verification.
		request: { params: HostIdParam },
		responses: {
			200: { description: "Received", content: { "application/json": { schema: WebhookAnswer } } },
			...problemResponses("invalid_request", "invalid_signature", "stale_timestamp", "not_found"),
		},
	}),
	async (c) => {
		const { hostId } = c.req.valid("param");
		// The signature covers the exact bytes sent, so the raw text is verified, not re-serialised JSON.
		const rawBody = await c.req.text();
		const headers: Record<string, string> = {};
		for (const name of signatureHeaders) headers[name] = c.req.header(name) ?? "";
		const sp = serviceProcessor(c.env, hostId);
		const { duplicate, event: verified } = await sp.verifyWebhook(headers, rawBody);
		if (duplicate) return c.json({ received: true as const, duplicate: true, applied: false }, 200);
		const event = parseEvent(verified);
		if (event.type === "host.facts") {
			await sp.recordFacts(event.data);
			return c.json({ received: true as const, duplicate: false, applied: true }, 200);
		}
		const vmId = await fleet(c.env).findMigration(event.data.migrationId);
		if (!vmId) throw new Problem("not_found", `no migration ${event.data.migrationId}`);
		const outcome = await virtualMachine(c.env, vmId).applyMigrationEvent(hostId, event);
		return c.json({ received: true as const, duplicate: false, applied: outcome.applied }, 200);
	},
);
