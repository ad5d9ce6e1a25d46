import { createRoute, z } from "@hono/zod-openapi";
import { HostIdParam } from "../../shared/ids";
import { Problem } from "../../shared/problem";
import { WebhookEvent } from "../../shared/schemas/migrations";
import { problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";
import { fleet, serviceProcessor, virtualMachine } from "../stubs";

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

/** Applies a verified event; true when it changed anything. */
async function applyEvent(env: Env, hostId: string, event: WebhookEvent): Promise<boolean> {
	if (event.type === "host.facts") {
		await serviceProcessor(env, hostId).recordFacts(event.data);
		return true;
	}
	const vmId = await fleet(env).findMigration(event.data.migrationId);
	if (!vmId) throw new Problem("not_found", `no migration ${event.data.migrationId}`);
	return (await virtualMachine(env, vmId).applyMigrationEvent(hostId, event)).applied;
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
		let applied: boolean;
		try {
			applied = await applyEvent(c.env, hostId, parseEvent(verified));
		} catch (error) {
			// The id was recorded on verification; a delivery that was not applied must stay retryable.
			await sp.forgetWebhook(headers["webhook-id"] ?? "");
			throw error;
		}
		return c.json({ received: true as const, duplicate: false, applied }, 200);
	},
);
