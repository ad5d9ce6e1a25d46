import { z } from "@hono/zod-openapi";
import { HostIdParam } from "../../shared/ids";
import { Problem } from "../../shared/problem";
import { WebhookEvent } from "../../shared/schemas/migrations";
import { problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";
import { migrationOwner } from "../migration-owner";
import { serviceProcessor, virtualMachine } from "../stubs";

/** Routes for agent webhooks; see ../shared/API.md ("Agent webhooks"). */
export const webhookRoutes = createRouter();

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
	const vmId = await migrationOwner(env, event.data.migrationId);
	if (!vmId) throw new Problem("not_found", `no migration ${event.data.migrationId}`);
	return (await virtualMachine(env, vmId).applyMigrationEvent(hostId, event)).applied;
}

const webhooksPath = "/v1/hosts/{hostId}/webhooks";
const documentedEvent = webhookRoutes.openAPIRegistry.register("WebhookEvent", WebhookEvent);

// Documented here and served by a plain route below: a validator on the body
// would parse it before the signature over its raw bytes is checked (a
// forged body must get 401, not 400). It is parsed after verification.
webhookRoutes.openAPIRegistry.registerPath({
	method: "post",
	path: webhooksPath,
	operationId: "postHostWebhook",
	// Authenticated by the Standard Webhooks signature, not an HTTP scheme.
	security: [],
	tags: ["webhooks"],
	summary: "Signed events from a host's hypervisor agent",
	description:
		"Standard Webhooks signed with the host's `webhookSecret` over the raw JSON body: `host.facts`, `validation.result`, `migration.progress`, `migration.completed`, `migration.failed`, and (QEMU hosts, additive) `migration.target_requested`, `migration.target_ready`. `401 invalid_signature`; `400 stale_timestamp` beyond 300 s; `403 forbidden` for a report from a host the work was not given to; a repeated `webhook-id` answers 200 with no second effect.",
	request: {
		params: HostIdParam,
		headers: z.object({
			"webhook-id": z
				.string()
				.openapi({ description: "unique per event; repeats are not applied" }),
			"webhook-timestamp": z.string().openapi({ description: "seconds since the epoch" }),
			"webhook-signature": z.string().openapi({ description: "`v1,<base64 HMAC-SHA256>`" }),
		}),
		body: { required: true, content: { "application/json": { schema: documentedEvent } } },
	},
	responses: {
		200: { description: "Received", content: { "application/json": { schema: WebhookAnswer } } },
		...problemResponses(
			"invalid_request",
			"invalid_signature",
			"stale_timestamp",
			"forbidden",
			"host_not_found",
			"not_found",
			"payload_too_large",
		),
	},
});

webhookRoutes.post("/v1/hosts/:hostId/webhooks", async (c) => {
	const params = HostIdParam.safeParse(c.req.param());
	if (!params.success) {
		throw new Problem("invalid_request", `path.hostId: ${params.error.issues[0]?.message}`);
	}
	const { hostId } = params.data;
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
});
