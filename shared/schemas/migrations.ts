/**
 * zod schemas for the migration policy, migration records and agent webhook
 * events (API.md, "Agent webhooks" and "Migrations"): the single source for
 * request validation, TypeScript types and the OpenAPI document.
 */
import { z } from "@hono/zod-openapi";
import { Identifier } from "../ids";
import { MigrationAddress, VmDefinition } from "./agent";
import { HostInputSchema } from "./hosts";

/** Ids of rules, sets and subtasks share the identifier grammar. */
const PolicyId = Identifier;

/** Which host's agent runs an agent subtask. */
export const RunsOn = z.enum(["source", "target"]);

/** What every subtask has, whichever runs it. */
const subtaskFields = {
	id: PolicyId,
	description: z.string().max(500).optional(),
	costSeconds: z.number().min(0).max(86_400).optional().openapi({
		description:
			"estimated validation time, used to report the work avoided (default 0 builtin, 60 agent)",
	}),
};

const check = z.string().min(1).max(4000).openapi({
	description: "CEL expression giving a bool",
	example: "source.cpu.flags.all(f, f in target.cpu.flags)",
});
const timeoutSeconds = z.number().int().min(1).max(86_400).openapi({
	description: "seconds to wait for the agent's result (default 120)",
});
const runsOn = RunsOn.openapi({
	description:
		"the host whose agent runs the check, the one that can observe what it measures (default `source`)",
});

/**
 * A subtask the control plane evaluates at once. The document closes each
 * kind (`additionalProperties: false`), so a subtask that is valid by the
 * schema is valid to the server; the server itself ignores unknown fields.
 */
export const BuiltinSubtask = z
	.object({ ...subtaskFields, kind: z.literal("builtin"), check })
	.openapi("BuiltinSubtask", { additionalProperties: false });

/** A subtask a host agent runs and reports by webhook. */
export const AgentSubtask = z
	.object({
		...subtaskFields,
		kind: z.literal("agent"),
		timeoutSeconds: timeoutSeconds.optional(),
		runsOn: runsOn.optional(),
	})
	.openapi("AgentSubtask", { additionalProperties: false });

/** One check in a validation set: evaluated here (`builtin`) or by the host agent (`agent`). */
export const PolicySubtask = z
	.discriminatedUnion("kind", [BuiltinSubtask, AgentSubtask])
	.openapi("PolicySubtask");

/**
 * A subtask as sent, before its kind's rules are checked: read when a policy
 * is refused, so `invalid_policy` can name every issue at once (a builtin
 * without a check, an agent subtask with one, and whatever else is wrong).
 */
const PolicySubtaskInput = z.object({
	...subtaskFields,
	kind: z.enum(["builtin", "agent"]),
	check: check.optional(),
	timeoutSeconds: timeoutSeconds.optional(),
	runsOn: runsOn.optional(),
});

/** A set of subtasks guarded by one or more rules. */
const validationSetOf = <Subtask extends z.ZodType>(subtask: Subtask) =>
	z.object({
		id: PolicyId,
		description: z.string().max(500).optional(),
		// An empty set is the policy's issue (invalid_policy, named with every other), not the request's.
		subtasks: z.array(subtask).max(50).openapi({
			description: "at least one; an empty set is refused as invalid_policy",
		}),
	});
export const ValidationSet = validationSetOf(PolicySubtask).openapi("ValidationSet");

/** A risk rule: its CEL score is compared to its threshold. */
export const RiskRule = z
	.object({
		id: PolicyId,
		description: z.string().max(500).optional(),
		score: z.string().min(1).max(4000).openapi({
			description: "CEL expression giving a number, clamped to 0–100",
			example: "source.site != target.site ? 80 : 0",
		}),
		threshold: z.number().min(0).max(100),
		validationSet: PolicyId,
	})
	.openapi("RiskRule");

/** The migration policy: rules and the validation sets they guard. */
const policyOf = <Set extends z.ZodType>(set: Set) =>
	z.object({
		rules: z.array(RiskRule).max(100),
		validationSets: z.array(set).max(100),
	});
export const MigrationPolicy = policyOf(ValidationSet).openapi("MigrationPolicy");

/** A policy as sent, its subtasks not yet held to their kinds (see `PolicySubtaskInput`). */
export const MigrationPolicyInput = policyOf(validationSetOf(PolicySubtaskInput));

export type PolicySubtask = z.infer<typeof PolicySubtask>;
export type ValidationSet = z.infer<typeof ValidationSet>;
export type RiskRule = z.infer<typeof RiskRule>;
export type MigrationPolicy = z.infer<typeof MigrationPolicy>;
export type MigrationPolicyInput = z.infer<typeof MigrationPolicyInput>;

/** Status of a set or a subtask in a migration. */
export const WorkStatus = z.enum(["skipped", "pending", "running", "passed", "failed"]);
export type WorkStatus = z.infer<typeof WorkStatus>;

/** How one rule scored for one migration. */
export const RuleOutcome = z
	.object({
		id: z.string(),
		score: z.number(),
		threshold: z.number(),
		validationSet: z.string(),
		triggered: z.boolean(),
		error: z.string().optional().openapi({
			description: "why the score could not be computed; such a rule counts as 100 (fail-safe)",
		}),
	})
	.openapi("RuleOutcome");
export type RuleOutcome = z.infer<typeof RuleOutcome>;

/** One subtask's state in a migration. */
export const SubtaskState = z
	.object({
		id: z.string(),
		kind: z.enum(["builtin", "agent"]),
		status: WorkStatus,
		detail: z.string().optional(),
		costSeconds: z.number(),
		timeoutSeconds: z.number().optional(),
		runsOn: RunsOn.optional(),
		deadline: z.string().optional().openapi({ description: "agent subtasks while running" }),
	})
	.openapi("SubtaskState");
export type SubtaskState = z.infer<typeof SubtaskState>;

/** One validation set's state in a migration, with why it runs or was skipped. */
export const SetState = z
	.object({
		id: z.string(),
		status: WorkStatus,
		reason: z.string().openapi({ description: "why the set runs or was skipped" }),
		triggeredBy: z.array(z.string()),
		subtasks: z.array(SubtaskState),
	})
	.openapi("SetState");
export type SetState = z.infer<typeof SetState>;

/** The risk assessment with the validation work it avoided. */
export const Assessment = z
	.object({
		rules: z.array(RuleOutcome),
		subtasksTotal: z.number().int(),
		subtasksSkipped: z.number().int(),
		validationSecondsPlanned: z.number(),
		validationSecondsAvoided: z.number(),
	})
	.openapi("Assessment");
export type Assessment = z.infer<typeof Assessment>;

/** Lifecycle states of a migration. */
export const MigrationState = z.enum([
	"validating",
	"migrating",
	"completed",
	"failed",
	"cancelled",
]);
export type MigrationState = z.infer<typeof MigrationState>;

/**
 * How a cancel ended (additive to API.md). A cancel while `validating` stops
 * the migration before the agent was asked to move anything. A cancel while
 * `migrating` reaches an agent that is already copying the VM: the agent's
 * next report decides where the VM runs, and the fleet follows it.
 */
export const Cancellation = z
	.object({
		requestedAt: z.string().openapi({ description: "when the cancel was accepted" }),
		during: z.enum(["validating", "migrating"]).openapi({
			description: "the state the migration was in when it was cancelled",
		}),
		outcome: z.enum(["stopped", "unconfirmed", "too_late"]).openapi({
			description:
				"`stopped`: the VM stays on the source (cancelled before `migration.start`, or the agent reported `migration.failed` after the cancel). `unconfirmed`: cancelled while the agent was moving the VM and the agent has not reported since; the VM counts as on the source. `too_late`: the agent reported `migration.completed` after the cancel — the VM had already moved, so its SP-table row, placement and virtual functions were handed over to the target as for a completed migration; `state` stays `cancelled`.",
		}),
		detail: z
			.string()
			.openapi({ description: "the outcome in words, naming the host the VM runs on" }),
	})
	.openapi("Cancellation");
export type Cancellation = z.infer<typeof Cancellation>;

/** A live migration as the hypervisor measured it. */
export const MigrationStats = z
	.object({
		totalTimeMs: z.number().nonnegative(),
		downtimeMs: z.number().nonnegative(),
		transferredBytes: z.number().nonnegative(),
	})
	.openapi("MigrationStats");
export type MigrationStats = z.infer<typeof MigrationStats>;

/** A migration as the API returns it. */
export const MigrationRecord = z
	.object({
		migrationId: z.string(),
		vmId: z.string(),
		sourceHostId: z.string(),
		targetHostId: z.string(),
		state: MigrationState,
		failure: z
			.object({ stage: z.enum(["validation", "migration"]), reason: z.string() })
			.optional(),
		progress: z.object({ percent: z.number(), phase: z.string().optional() }),
		cancellation: Cancellation.optional().openapi({
			description: "present once cancelled: when, from which state, and where the VM ended",
		}),
		assessment: Assessment,
		validationSets: z.array(SetState),
		stats: MigrationStats.optional().openapi({
			description: "the move as the hypervisor measured it (real hosts)",
		}),
		targetAddress: z.string().optional().openapi({
			description: "where the target's hypervisor listened for the VM (real hosts)",
		}),
		dryRun: z.boolean().optional(),
		createdAt: z.string(),
		updatedAt: z.string(),
	})
	.openapi("Migration");
export type MigrationRecord = z.infer<typeof MigrationRecord>;

/** Body of `POST /v1/migrations`. */
export const MigrationRequest = z
	.object({
		vmId: Identifier,
		targetHostId: Identifier,
		dryRun: z.boolean().optional(),
	})
	.openapi("MigrationRequest");
export type MigrationRequest = z.infer<typeof MigrationRequest>;

/** Agent webhook events (API.md, "Agent webhooks"), discriminated by `type`. */
export const WebhookEvent = z.discriminatedUnion("type", [
	z.object({
		type: z.literal("host.facts"),
		// What the host record's own schema would refuse is refused here too:
		// stored, it would break every later read of the fleet.
		data: z.object({
			cpu: HostInputSchema.shape.cpu.optional(),
			memoryMiB: HostInputSchema.shape.memoryMiB.optional(),
			memoryFreeMiB: z.number().min(0).optional(),
			hypervisor: HostInputSchema.shape.hypervisor.optional(),
			migrationProbe: MigrationAddress.optional().openapi({
				description:
					"where the host's agent accepts throughput probes on its migration network (QEMU hosts)",
			}),
		}),
	}),
	z.object({
		type: z.literal("validation.result"),
		data: z.object({
			migrationId: z.string().min(1),
			subtask: z.string().min(1),
			validationSet: z.string().min(1).optional().openapi({
				description: "the subtask's set, needed when two sets share a subtask id",
			}),
			ok: z.boolean(),
			detail: z.string().max(2000).optional(),
		}),
	}),
	z.object({
		type: z.literal("migration.progress"),
		data: z.object({
			migrationId: z.string().min(1),
			percent: z.number().min(0).max(100),
			phase: z.string().max(100).optional(),
			stats: MigrationStats.optional().openapi({
				description: "sent by the source once the hypervisor finished the copy",
			}),
		}),
	}),
	z.object({
		type: z.literal("migration.completed"),
		data: z.object({ migrationId: z.string().min(1), stats: MigrationStats.optional() }),
	}),
	z
		.object({
			type: z.literal("migration.target_requested"),
			data: z.object({ migrationId: z.string().min(1), vm: VmDefinition }),
		})
		.openapi({
			description:
				"from the source (additive): its hypervisor needs an incoming VM on the target; the control plane sends the target `migration.prepare`",
		}),
	z
		.object({
			type: z.literal("migration.target_ready"),
			data: z.object({ migrationId: z.string().min(1), address: MigrationAddress }),
		})
		.openapi({
			description:
				"from the target (additive): its incoming VM listens at `address`; the control plane sends the source `migration.transfer`",
		}),
	z.object({
		type: z.literal("migration.failed"),
		data: z.object({ migrationId: z.string().min(1), reason: z.string().max(2000) }),
	}),
]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** The migration events an agent reports for one migration. */
export type MigrationEvent = Exclude<WebhookEvent, { type: "host.facts" }>;
