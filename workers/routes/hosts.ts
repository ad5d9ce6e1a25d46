import { createRoute } from "@hono/zod-openapi";
import { HostIdParam } from "../../shared/ids";
import { Problem } from "../../shared/problem";
import {
	HostCreatedSchema,
	HostInputSchema,
	HostListQuerySchema,
	HostListSchema,
	HostSchema,
} from "../../shared/schemas/hosts";
import { jsonContent, problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";
import { adminSecurity, requireAdmin } from "../middleware/auth";
import { fleet, serviceProcessor } from "../stubs";

const putHost = createRoute({
	method: "put",
	path: "/v1/hosts/{hostId}",
	operationId: "putHost",
	tags: ["hosts"],
	summary: "Create or update a host and its service processor",
	description:
		"On create the agent token and the Standard Webhooks secret are shown once. Joining a domain makes the host's service processor a receiver of that domain's broadcasts; moving domains leaves the old one.",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: {
		params: HostIdParam,
		body: { required: true, content: jsonContent(HostInputSchema) },
	},
	responses: {
		201: {
			description: "Host created; secrets shown once",
			content: jsonContent(HostCreatedSchema),
		},
		200: { description: "Host updated", content: jsonContent(HostSchema) },
		...problemResponses("invalid_request", "unauthorized", "payload_too_large"),
	},
});

const getHost = createRoute({
	method: "get",
	path: "/v1/hosts/{hostId}",
	operationId: "getHost",
	tags: ["hosts"],
	summary: "A host with its latest facts",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostIdParam },
	responses: {
		200: { description: "The host", content: jsonContent(HostSchema) },
		...problemResponses("invalid_request", "unauthorized", "host_not_found"),
	},
});

const listHosts = createRoute({
	method: "get",
	path: "/v1/hosts",
	operationId: "listHosts",
	tags: ["hosts"],
	summary: "Hosts, optionally of one broadcast domain, newest first",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { query: HostListQuerySchema },
	responses: {
		200: { description: "The hosts", content: jsonContent(HostListSchema) },
		...problemResponses("invalid_request", "unauthorized"),
	},
});

/** `PUT/GET /v1/hosts/{hostId}`, `GET /v1/hosts`. */
export const hostRoutes = createRouter()
	.openapi(putHost, async (c) => {
		const { hostId } = c.req.valid("param");
		const result = await serviceProcessor(c.env, hostId).configureHost(hostId, c.req.valid("json"));
		if (result.created) {
			const { host, agentToken, webhookSecret } = result;
			return c.json({ hostId, domain: host.domain, agentToken, webhookSecret }, 201);
		}
		return c.json(HostSchema.parse({ ...result.host, agentConnected: result.agentConnected }), 200);
	})
	.openapi(getHost, async (c) => {
		const { hostId } = c.req.valid("param");
		const host = await serviceProcessor(c.env, hostId).describeHost();
		if (!host) throw new Problem("host_not_found", `no host ${hostId}`);
		return c.json(HostSchema.parse(host), 200);
	})
	.openapi(listHosts, async (c) => {
		const { domain } = c.req.valid("query");
		const entries = await fleet(c.env).listHosts(domain);
		const hosts = await Promise.all(
			entries.map((entry) => serviceProcessor(c.env, entry.hostId).describeHost()),
		);
		const found = hosts.filter((host) => host !== null);
		// The directory can lag a domain move; the SP's own record is the truth.
		const inDomain = domain === undefined ? found : found.filter((host) => host.domain === domain);
		inDomain.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
		return c.json(HostListSchema.parse({ hosts: inDomain }), 200);
	});
