import { z } from "@hono/zod-openapi";
import { Identifier } from "../ids";

/** `PUT /v1/hosts/{hostId}` body. */
export const HostInputSchema = z
	.object({
		domain: Identifier.openapi({ example: "rack-7" }),
		site: z.string().min(1).max(128).openapi({ example: "fra-1" }),
		cpu: z.object({
			model: z.string().min(1).max(256).openapi({ example: "AMD EPYC 9654" }),
			flags: z
				.array(z.string().min(1).max(64))
				.max(512)
				.openapi({ example: ["avx2", "sev"] }),
		}),
		memoryMiB: z.number().int().positive().openapi({ example: 786432 }),
		hypervisor: z.object({
			name: z.string().min(1).max(64).openapi({ example: "cloud-hypervisor" }),
			version: z.string().min(1).max(64).openapi({ example: "41.0" }),
		}),
	})
	.openapi("HostInput");

/** What an admin sends to create or update a host. */
export type HostInput = z.infer<typeof HostInputSchema>;

/** A host with its latest facts; never its secrets. */
export const HostSchema = HostInputSchema.extend({
	hostId: Identifier,
	facts: z
		.object({ memoryFreeMiB: z.number().optional() })
		.catchall(z.unknown())
		.openapi({ description: "Latest facts the host agent reported (host.facts webhooks)" }),
	createdAt: z.string().openapi({ format: "date-time" }),
	updatedAt: z.string().openapi({ format: "date-time" }),
	agentConnected: z.boolean().openapi({
		description: "Whether the host agent's control channel (WebSocket) is attached now",
	}),
}).openapi("Host");

/** `201` body: the secrets are shown only here, once. */
export const HostCreatedSchema = z
	.object({
		hostId: Identifier,
		domain: Identifier,
		agentToken: z.string().openapi({ description: "Bearer token of the host agent channel" }),
		webhookSecret: z.string().openapi({
			description: "Standard Webhooks secret (whsec_…) the agent signs webhooks with",
		}),
	})
	.openapi("HostCreated");

/** `GET /v1/hosts` body. */
export const HostListSchema = z.object({ hosts: z.array(HostSchema) }).openapi("HostList");

/** `GET /v1/hosts` query. */
export const HostListQuerySchema = z.object({
	domain: Identifier.optional().openapi({ param: { name: "domain", in: "query" } }),
});
