/**
 * The host agent channel's messages (API.md, "Host agent channel"). A
 * WebSocket's frames have no place in an OpenAPI path, so they are published
 * as components the agent route's description names; the tests hold every
 * command the server sends to these shapes.
 */
import { z } from "@hono/zod-openapi";
import { Identifier } from "../ids";

const command = <Type extends string, Shape extends z.ZodRawShape>(type: Type, shape: Shape) =>
	z.object({
		id: z.string().openapi({ description: "unique; ack it, dedupe by it" }),
		type: z.literal(type),
		...shape,
	});

const driverNotification = {
	hostId: Identifier,
	bdf: z.string(),
	vfIndex: z.number().int().nonnegative(),
	vmId: Identifier,
	virtualAddress: z.string(),
	transferId: z.string(),
};

/** A command the server sends the host agent. */
export const AgentCommand = z
	.discriminatedUnion("type", [
		command("session.open", {
			sessionId: z.string(),
			vmId: Identifier,
			channel: z.object({
				url: z.string().openapi({
					description: "WebSocket URL with a single-use token: dial it as the VM side",
				}),
			}),
		}),
		command("session.close", { sessionId: z.string(), reason: z.string() }),
		command("validation.run", {
			migrationId: z.string(),
			subtask: z.string(),
			vmId: Identifier,
			sourceHostId: Identifier,
			targetHostId: Identifier,
		}),
		command("migration.start", {
			migrationId: z.string(),
			vmId: Identifier,
			targetHostId: Identifier,
		}),
		command("migration.cancel", { migrationId: z.string() }),
		command("vf.hold", driverNotification),
		command("vf.lift", driverNotification),
	])
	.openapi("AgentCommand");

/** The agent's acknowledgement; `ids` (additive) acks a burst in one frame. */
export const AgentAck = z
	.object({
		type: z.literal("ack"),
		id: z.string(),
		ids: z.array(z.string()).max(1_000).optional(),
	})
	.openapi("AgentAck");
