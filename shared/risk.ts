/**
 * The risk engine (patent US 10,671,446 B2): score every rule of a policy
 * with CEL, select only the validation sets whose rule crossed its
 * threshold, evaluate their builtin checks at once, and account for the
 * validation work the skipped sets avoided. Pure: no Workers imports.
 */
import { asBool, asNumber, type CompiledExpression, compileExpression } from "./risk/cel";
import { bindingsOf, type RiskContext, sampleContexts } from "./risk/context";
import { setStatusOf } from "./risk/progress";
import type {
	Assessment,
	MigrationPolicyInput,
	RiskRule,
	RuleOutcome,
	SetState,
	SubtaskState,
} from "./schemas/migrations";

/**
 * A policy as the engine reads it: as sent, its subtasks not yet held to
 * their kinds, so a refusal names every issue; a stored policy is one too.
 */
type Policy = MigrationPolicyInput;
type ValidationSet = Policy["validationSets"][number];
type PolicySubtask = ValidationSet["subtasks"][number];

export type { RiskContext, RiskHistory, RiskHost, RiskVm } from "./risk/context";

/** Seconds an agent subtask may take when the policy names no timeout. */
export const defaultAgentTimeoutSeconds = 120;
const defaultCostSeconds = { builtin: 0, agent: 60 } as const;

/** A policy that does not compile or type-check; `issues` name each failing part. */
export class PolicyError extends Error {
	constructor(readonly issues: string[]) {
		super(issues.join("; "));
		this.name = "PolicyError";
	}
}

interface CompiledRule {
	rule: RiskRule;
	score: CompiledExpression;
}

interface CompiledSet {
	set: ValidationSet;
	checks: Map<string, CompiledExpression>;
}

/** A policy ready to assess migrations. */
export interface CompiledPolicy {
	policy: Policy;
	rules: CompiledRule[];
	sets: CompiledSet[];
}

/** The outcome of assessing one migration. */
export interface RiskAssessment {
	assessment: Assessment;
	validationSets: SetState[];
}

function duplicates(ids: string[]): string[] {
	return [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
}

/** Compiles a CEL expression, recording a syntax error as an issue. */
function compileOrRecord(
	source: string,
	where: string,
	issues: string[],
): CompiledExpression | undefined {
	try {
		return compileExpression(source);
	} catch (error) {
		issues.push(`${where} does not compile: ${error instanceof Error ? error.message : error}`);
		return undefined;
	}
}

/** Type check by evaluation on every sample context (see risk/context.ts). */
function typeCheck(
	expression: CompiledExpression,
	want: "number" | "bool",
	where: string,
	issues: string[],
): void {
	for (const sample of sampleContexts) {
		const evaluation = expression(bindingsOf(sample.context));
		const typed = evaluation.ok
			? want === "number"
				? asNumber(evaluation.value)
				: asBool(evaluation.value)
			: evaluation;
		if (!typed.ok) {
			issues.push(`${where}: ${typed.error} (sample: ${sample.name})`);
			return;
		}
	}
}

function structuralIssues(policy: Policy): string[] {
	const issues: string[] = [];
	for (const id of duplicates(policy.rules.map((rule) => rule.id))) {
		issues.push(`rule id "${id}" is used more than once`);
	}
	for (const id of duplicates(policy.validationSets.map((set) => set.id))) {
		issues.push(`validation set id "${id}" is used more than once`);
	}
	const setIds = new Set(policy.validationSets.map((set) => set.id));
	for (const rule of policy.rules) {
		if (!setIds.has(rule.validationSet)) {
			issues.push(
				`rule "${rule.id}" names validation set "${rule.validationSet}", which is missing`,
			);
		}
	}
	for (const set of policy.validationSets) {
		if (set.subtasks.length === 0) issues.push(`validation set "${set.id}" has no subtasks`);
		for (const id of duplicates(set.subtasks.map((subtask) => subtask.id))) {
			issues.push(`validation set "${set.id}" has subtask id "${id}" more than once`);
		}
		for (const subtask of set.subtasks) {
			const where = `subtask "${set.id}/${subtask.id}"`;
			if (subtask.kind === "builtin" && subtask.check === undefined) {
				issues.push(`${where} is builtin and needs a check`);
			}
			if (subtask.kind === "agent" && subtask.check !== undefined) {
				issues.push(`${where} is run by the agent and cannot have a check`);
			}
			if (subtask.kind === "builtin" && subtask.timeoutSeconds !== undefined) {
				issues.push(`${where} is builtin and cannot have a timeout`);
			}
		}
	}
	return issues;
}

/** Compiles and type-checks a policy; throws PolicyError listing every issue. */
export function compilePolicy(policy: Policy): CompiledPolicy {
	const issues = structuralIssues(policy);
	const rules: CompiledRule[] = [];
	for (const rule of policy.rules) {
		const where = `rule "${rule.id}" score`;
		const score = compileOrRecord(rule.score, where, issues);
		if (!score) continue;
		typeCheck(score, "number", where, issues);
		rules.push({ rule, score });
	}
	const sets: CompiledSet[] = policy.validationSets.map((set) => {
		const checks = new Map<string, CompiledExpression>();
		for (const subtask of set.subtasks) {
			if (subtask.kind !== "builtin" || subtask.check === undefined) continue;
			const where = `subtask "${set.id}/${subtask.id}" check`;
			const check = compileOrRecord(subtask.check, where, issues);
			if (!check) continue;
			typeCheck(check, "bool", where, issues);
			checks.set(subtask.id, check);
		}
		return { set, checks };
	});
	if (issues.length > 0) throw new PolicyError(issues);
	return { policy, rules, sets };
}

/** Clamps a score into 0–100. */
export function clampScore(score: number): number {
	return Math.min(100, Math.max(0, score));
}

/** Scores one rule; a score that cannot be computed counts as 100 (fail safe). */
function scoreRule({ rule, score }: CompiledRule, bindings: ReturnType<typeof bindingsOf>) {
	const evaluation = score(bindings);
	const number = evaluation.ok ? asNumber(evaluation.value) : evaluation;
	const outcome: RuleOutcome = number.ok
		? { ...ruleHead(rule), score: clampScore(number.value), triggered: false }
		: { ...ruleHead(rule), score: 100, triggered: false, error: number.error };
	outcome.triggered = outcome.score >= rule.threshold;
	return outcome;
}

function ruleHead(rule: RiskRule) {
	return { id: rule.id, threshold: rule.threshold, validationSet: rule.validationSet };
}

/** Cost of a subtask in seconds, with the documented defaults. */
export function costOf(subtask: PolicySubtask): number {
	return subtask.costSeconds ?? defaultCostSeconds[subtask.kind];
}

function explain(outcomes: RuleOutcome[]): string {
	return outcomes
		.map(
			(outcome) =>
				// One decimal reads as a score; the record keeps the exact number.
				`rule ${outcome.id} scored ${Number(outcome.score.toFixed(1))} ${outcome.triggered ? "≥" : "<"} threshold ${outcome.threshold}${outcome.error ? ` (error: ${outcome.error})` : ""}`,
		)
		.join("; ");
}

function planSubtask(
	subtask: PolicySubtask,
	check: CompiledExpression | undefined,
	bindings: ReturnType<typeof bindingsOf>,
): SubtaskState {
	const head = { id: subtask.id, kind: subtask.kind, costSeconds: costOf(subtask) };
	if (subtask.kind === "agent") {
		const timeoutSeconds = subtask.timeoutSeconds ?? defaultAgentTimeoutSeconds;
		const runsOn = subtask.runsOn === "target" ? { runsOn: subtask.runsOn } : {};
		return { ...head, status: "pending", timeoutSeconds, ...runsOn };
	}
	if (!check) return { ...head, status: "failed", detail: "builtin subtask has no check" };
	const evaluation = check(bindings);
	const result = evaluation.ok ? asBool(evaluation.value) : evaluation;
	if (!result.ok) return { ...head, status: "failed", detail: `check error: ${result.error}` };
	if (!result.value)
		return { ...head, status: "failed", detail: `check is false: ${subtask.check}` };
	return { ...head, status: "passed" };
}

function planSet(
	{ set, checks }: CompiledSet,
	outcomes: RuleOutcome[],
	bindings: ReturnType<typeof bindingsOf>,
): SetState {
	const guards = outcomes.filter((outcome) => outcome.validationSet === set.id);
	const triggeredBy = guards.filter((outcome) => outcome.triggered);
	if (triggeredBy.length === 0) {
		return {
			id: set.id,
			status: "skipped",
			reason: guards.length === 0 ? "no rule guards this set" : explain(guards),
			triggeredBy: [],
			subtasks: set.subtasks.map((subtask) => ({
				id: subtask.id,
				kind: subtask.kind,
				status: "skipped",
				costSeconds: costOf(subtask),
			})),
		};
	}
	const subtasks = set.subtasks.map((subtask) =>
		planSubtask(subtask, checks.get(subtask.id), bindings),
	);
	return {
		id: set.id,
		status: setStatusOf(subtasks),
		reason: explain(triggeredBy),
		triggeredBy: triggeredBy.map((outcome) => outcome.id),
		subtasks,
	};
}

/**
 * Assesses one migration: every rule scored, every set either selected (its
 * builtin checks evaluated now, agent subtasks pending) or skipped with the
 * scores that kept it below threshold, and the work skipped counted.
 */
export function assess(compiled: CompiledPolicy, context: RiskContext): RiskAssessment {
	const bindings = bindingsOf(context);
	const rules = compiled.rules.map((rule) => scoreRule(rule, bindings));
	const validationSets = compiled.sets.map((set) => planSet(set, rules, bindings));
	const subtasks = validationSets.flatMap((set) => set.subtasks);
	const skipped = subtasks.filter((subtask) => subtask.status === "skipped");
	const sum = (list: SubtaskState[]) => list.reduce((total, item) => total + item.costSeconds, 0);
	return {
		assessment: {
			rules,
			subtasksTotal: subtasks.length,
			subtasksSkipped: skipped.length,
			validationSecondsPlanned: sum(subtasks) - sum(skipped),
			validationSecondsAvoided: sum(skipped),
		},
		validationSets,
	};
}
