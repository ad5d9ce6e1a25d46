/**
 * The host agent channel's messages (API.md, "Host agent channel"). A
 * WebSocket's frames have no place in an OpenAPI path, so they are published
 * as components the agent route's description names; the tests hold every
 * command the server sends to these shapes.
 */
import { z } from "@hono/zod-openapi";
// `.ts` extensions: the Node host agent imports this file directly (type stripping).
import { Identifier } from "../ids.ts";

const command = <Type extends string, Shape extends z.ZodRawShape>(type: Type, shape: Shape) =>
	z.object({
		id: z.string().openapi({ description: "unique; ack it, dedupe by it" }),
		type: z.literal(type),
		...shape,
	});

/**
 * A VM's definition on a real host (API.md, "Host agent for QEMU hosts":
 * one `<vmId>.json` in the agent's `--vms-dir`). It crosses the control
 * plane from the source agent to the target agent, so every field is
 * bounded; paths are absolute and free of the commas QEMU's option syntax
 * would read as separators.
 */
const HostPath = z
	.string()
	.max(4096)
	.regex(/^\/[^,\0\n]*$/, "must be an absolute path without commas");
export const VmDefinition = z
	.object({
		vmId: Identifier,
		memoryMiB: z
			.number()
			.int()
			.min(16)
			.max(16 * 1024 * 1024),
		vcpus: z.number().int().min(1).max(512),
		kernel: HostPath,
		initrd: HostPath.optional(),
		append: z
			.string()
			.max(4096)
			.regex(/^[^\0\n]*$/)
			.optional(),
		disks: z
			.array(z.object({ path: HostPath, format: z.enum(["raw", "qcow2"]).optional() }))
			.max(16)
			.optional(),
	})
	.strict()
	.openapi("VmDefinition");
export type VmDefinition = z.infer<typeof VmDefinition>;

/**
 * Where a target hypervisor listens for a migration: `tcp:HOST:PORT` only.
 * QEMU also accepts `exec:` and `unix:` URIs; a control plane must never be
 * able to make a source run a command or touch a local socket.
 */
export const MigrationAddress = z
	.string()
	.max(300)
	.regex(
		/^tcp:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):([1-9][0-9]{0,4})$/,
		"must be tcp:HOST:PORT",
	)
	.refine((address) => Number(address.slice(address.lastIndexOf(":") + 1)) <= 65_535, {
		message: "port out of range",
	});

/** A VM's size as its SP table describes it. */
const VmShape = z.object({
	memoryMiB: z.number().int().positive(),
	vcpus: z.number().int().positive(),
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
			resume: z.boolean().optional().openapi({
				description:
					"the session goes on from the VM's old host (its VM live-migrated here): attach without greeting",
			}),
			vm: VmShape.optional().openapi({
				description: "the VM as its SP table describes it (a new session; absent on resume)",
			}),
		}),
		command("session.close", { sessionId: z.string(), reason: z.string() }),
		command("validation.run", {
			migrationId: z.string(),
			validationSet: Identifier.openapi({ description: "the subtask's validation set's id" }),
			subtask: Identifier.openapi({ description: "the subtask's own id in the policy" }),
			timeoutSeconds: z.number().int().positive().optional().openapi({
				description: "when the result is due: a check still running then is stopped",
			}),
			vm: VmShape.optional().openapi({
				description: "the VM as its SP table describes it, for checks on the target",
			}),
			targetProbe: MigrationAddress.optional().openapi({
				description:
					"where the target's agent accepts throughput probes (its host.facts' migrationProbe), for checks of the migration path",
			}),
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
		command("migration.prepare", {
			migrationId: z.string(),
			vmId: Identifier,
			sourceHostId: Identifier,
			vm: VmDefinition.openapi({
				description: "the VM's definition as the source agent reported it",
			}),
		}).openapi({
			description:
				"to the target host (additive): start an incoming hypervisor for the VM and report `migration.target_ready` with where it listens",
		}),
		command("migration.transfer", {
			migrationId: z.string(),
			vmId: Identifier,
			targetHostId: Identifier,
			address: MigrationAddress,
		}).openapi({
			description:
				"to the source host (additive): the target listens at `address`; copy the VM there",
		}),
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
