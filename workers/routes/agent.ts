import { createRoute } from "@hono/zod-openapi";
import { HostIdParam } from "../../shared/ids";
import { AgentAck, AgentCommand } from "../../shared/schemas/agent";
import { problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";
import { forwardUpgrade, serviceProcessor } from "../stubs";

const agentChannel = createRoute({
	method: "get",
	path: "/v1/hosts/{hostId}/agent",
	operationId: "openAgentChannel",
	tags: ["agent"],
	summary: "The host agent's control WebSocket",
	description:
		'Upgrade with `Authorization: Bearer <agentToken>`. The server sends JSON commands (schema `AgentCommand`), each with a unique `id` and a `type` (`session.open`, `session.close`, `validation.run`, `migration.start`, `migration.cancel`, `vf.hold`, `vf.lift`); the agent answers `{"type": "ack", "id"}` (schema `AgentAck`). Unacknowledged commands are sent again on reconnect. One live channel per host: a new one replaces the old.',
	security: [{ agentToken: [] }],
	request: { params: HostIdParam },
	responses: {
		101: { description: "Switching Protocols: the channel is open" },
		...problemResponses("invalid_request", "unauthorized"),
	},
});

/** `GET /v1/hosts/{hostId}/agent` (WebSocket). The service processor checks the token. */
export const agentRoutes = createRouter();
// Frames of the channel, published as components (see shared/schemas/agent.ts).
agentRoutes.openAPIRegistry.register("AgentCommand", AgentCommand);
agentRoutes.openAPIRegistry.register("AgentAck", AgentAck);
agentRoutes.openapi(agentChannel, async (c) => {
	const { hostId } = c.req.valid("param");
	return forwardUpgrade(serviceProcessor(c.env, hostId), c.req.raw);
});
