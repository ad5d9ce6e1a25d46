// Proves the risk engine: policies that do not compile, type-check or
// reference their sets are refused with every issue named; scores are
// clamped to 0–100 and fail safe; only sets whose rule crossed its
// threshold are selected; builtin checks are evaluated at once; skipped work
// is counted. Does not cover storage or the migration lifecycle.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultPolicy } from "../../shared/default-policy";
import {
	assess,
	clampScore,
	compilePolicy,
	PolicyError,
	type RiskContext,
} from "../../shared/risk";
import { compareVersions } from "../../shared/risk/cel";
import type { MigrationPolicyInput } from "../../shared/schemas/migrations";

function host(hostId: string, overrides: Partial<RiskContext["source"]> = {}) {
	return {
		hostId,
		domain: "d1",
		site: "site-1",
		cpu: { model: "Xeon 6338", flags: ["sse4_2", "avx2"] },
		memoryMiB: 262_144,
		hypervisor: { name: "qemu-kvm", version: "8.2.0" },
		facts: { memoryFreeMiB: 200_000 },
		pci: { devices: 0, freeVfs: 0 },
		agentConnected: true,
		...overrides,
	};
}

function context(overrides: Partial<RiskContext> = {}): RiskContext {
	return {
		vm: { vmId: "vm-1", memoryMiB: 4096, vcpus: 2, attachedFunctions: 0 },
		source: host("a"),
		target: host("b"),
		history: { migrations: 0, failures: 0, targetFailures: 0 },
		...overrides,
	};
}

function onePolicy(score: string, threshold = 50, check = "true"): MigrationPolicyInput {
	return {
		rules: [{ id: "r1", description: "", score, threshold, validationSet: "s1" }],
		validationSets: [
			{
				id: "s1",
				description: "",
				subtasks: [
					{ id: "b1", kind: "builtin", check },
					{ id: "a1", kind: "agent", costSeconds: 30 },
				],
			},
		],
	};
}

function issuesOf(policy: MigrationPolicyInput): string[] {
	try {
		compilePolicy(policy);
		return [];
	} catch (error) {
		if (error instanceof PolicyError) return error.issues;
		throw error;
	}
}

describe("policy compilation", () => {
	it("accepts the default policy with at least 6 rules and 5 sets", () => {
		expect(issuesOf(defaultPolicy)).toEqual([]);
		expect(defaultPolicy.rules.length).toBeGreaterThanOrEqual(6);
		expect(defaultPolicy.validationSets.length).toBeGreaterThanOrEqual(5);
	});

	it("refuses a score that does not compile, naming the rule", () => {
		const [issue] = issuesOf(onePolicy("1 +"));
		expect(issue).toMatch(/rule "r1" score does not compile/);
	});

	it("refuses a score that gives a bool instead of a number", () => {
		const [issue] = issuesOf(onePolicy("vm.memoryMiB > 1"));
		expect(issue).toMatch(/rule "r1" score: expected a number, got boolean/);
	});

	it("refuses a check that gives a number instead of a bool", () => {
		const [issue] = issuesOf(onePolicy("0", 50, "vm.vcpus"));
		expect(issue).toMatch(/subtask "s1\/b1" check: expected a bool/);
	});

	it("refuses a score reading a field no record has", () => {
		const [issue] = issuesOf(onePolicy("vm.memoryGiB"));
		expect(issue).toMatch(/field not found: memoryGiB/);
	});

	it("refuses an optional fact read without has()", () => {
		const [issue] = issuesOf(onePolicy("target.facts.memoryFreeMiB"));
		expect(issue).toMatch(/no reported facts/);
	});

	it("refuses an unknown variable and an unknown function", () => {
		expect(issuesOf(onePolicy("hosts.size()"))).toHaveLength(1);
		expect(issuesOf(onePolicy("max(1, 2)"))).toHaveLength(1);
	});

	it("refuses a rule naming a missing set, and duplicate ids", () => {
		const policy = onePolicy("0");
		const [rule] = policy.rules;
		const [set] = policy.validationSets;
		if (!rule || !set) throw new Error("fixture has one rule and one set");
		policy.rules.push({ ...rule, validationSet: "nope" });
		policy.validationSets.push({ ...set });
		const issues = issuesOf(policy);
		expect(issues).toContain(`rule id "r1" is used more than once`);
		expect(issues).toContain(`validation set id "s1" is used more than once`);
		expect(issues).toContain(`rule "r1" names validation set "nope", which is missing`);
	});

	it("refuses a builtin subtask without a check and an agent subtask with one", () => {
		const policy = onePolicy("0");
		policy.validationSets = policy.validationSets.map((set) => ({
			...set,
			subtasks: [
				{ id: "b", kind: "builtin" },
				{ id: "a", kind: "agent", check: "true" },
			],
		}));
		expect(issuesOf(policy)).toEqual([
			`subtask "s1/b" is builtin and needs a check`,
			`subtask "s1/a" is run by the agent and cannot have a check`,
		]);
	});
});

describe("scores", () => {
	it("are clamped to 0–100 for any number an expression gives", () => {
		fc.assert(
			fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
				const compiled = compilePolicy(onePolicy(`vm.memoryMiB * 0.0 + ${value.toExponential()}`));
				const { assessment } = assess(compiled, context());
				const score = assessment.rules[0]?.score;
				expect(score).toBeGreaterThanOrEqual(0);
				expect(score).toBeLessThanOrEqual(100);
				expect(score).toBe(clampScore(value));
			}),
		);
	});

	it("count as 100 with the error when the expression fails at run time", () => {
		const compiled = compilePolicy(onePolicy("vm.memoryMiB > 1000000.0 ? vm.nope : 0"));
		const big = context({
			vm: { vmId: "v", memoryMiB: 2_000_000, vcpus: 1, attachedFunctions: 0 },
		});
		const [rule] = assess(compiled, big).assessment.rules;
		expect(rule).toMatchObject({ score: 100, triggered: true, error: expect.any(String) });
	});
});

describe("set selection", () => {
	it("selects a set exactly when some guarding rule's score reaches its threshold", () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 100 }),
				fc.integer({ min: 0, max: 100 }),
				(score, threshold) => {
					const compiled = compilePolicy(onePolicy(String(score), threshold));
					const { validationSets } = assess(compiled, context());
					const selected = validationSets[0]?.status !== "skipped";
					expect(selected).toBe(score >= threshold);
				},
			),
		);
	});

	it("explains with scores rounded to one decimal, keeping the exact score on the rule", () => {
		const { validationSets, assessment } = assess(
			compilePolicy(onePolicy("80.0 / 2.7")),
			context(),
		);
		expect(validationSets[0]?.reason).toBe("rule r1 scored 29.6 < threshold 50");
		expect(assessment.rules[0]?.score).toBeCloseTo(29.629, 2);
	});

	it("explains a skipped set by the scores that kept it below threshold", () => {
		const { validationSets, assessment } = assess(compilePolicy(onePolicy("10")), context());
		expect(validationSets[0]).toMatchObject({
			status: "skipped",
			reason: "rule r1 scored 10 < threshold 50",
			triggeredBy: [],
		});
		expect(assessment).toMatchObject({
			subtasksTotal: 2,
			subtasksSkipped: 2,
			validationSecondsAvoided: 30,
			validationSecondsPlanned: 0,
		});
	});

	it("evaluates builtin checks of a selected set at once and leaves agent subtasks pending", () => {
		const compiled = compilePolicy(onePolicy("90", 50, "vm.vcpus > 8.0"));
		const [set] = assess(compiled, context()).validationSets;
		expect(set).toMatchObject({ status: "failed", triggeredBy: ["r1"] });
		expect(set?.subtasks).toEqual([
			expect.objectContaining({
				id: "b1",
				status: "failed",
				detail: "check is false: vm.vcpus > 8.0",
			}),
			expect.objectContaining({ id: "a1", status: "pending", timeoutSeconds: 120 }),
		]);
	});
});

describe("the default policy", () => {
	const compiled = compilePolicy(defaultPolicy);
	const statusOf = (ctx: RiskContext) =>
		Object.fromEntries(assess(compiled, ctx).validationSets.map((set) => [set.id, set.status]));

	it("runs nothing for a small VM between twin hosts", () => {
		const { assessment } = assess(compiled, context());
		expect(assessment.rules.every((rule) => !rule.triggered)).toBe(true);
		expect(assessment.subtasksSkipped).toBe(assessment.subtasksTotal);
	});

	it("selects only the site set for a cross-site move of a small VM", () => {
		const statuses = statusOf(context({ target: host("b", { site: "site-2" }) }));
		expect(Object.entries(statuses).filter(([, status]) => status !== "skipped")).toEqual([
			["site-reachability", "pending"],
		]);
	});

	it("fails the CPU set at once when the target lacks a flag", () => {
		const target = host("b", { cpu: { model: "EPYC", flags: ["sse4_2"] } });
		expect(statusOf(context({ target }))["cpu-compatibility"]).toBe("failed");
	});

	it("fails the hypervisor set at once when the target is older", () => {
		const target = host("b", { hypervisor: { name: "qemu-kvm", version: "7.2.0" } });
		expect(statusOf(context({ target }))["hypervisor-compatibility"]).toBe("failed");
	});

	it("fails the SR-IOV set at once when the target has no free VF slot", () => {
		const vm = { vmId: "v", memoryMiB: 4096, vcpus: 2, attachedFunctions: 1 };
		expect(statusOf(context({ vm }))["sriov-functions"]).toBe("failed");
	});
});

describe("versionAtLeast", () => {
	it("orders dotted versions numerically", () => {
		expect(compareVersions("8.10.0", "8.9.9")).toBe(1);
		expect(compareVersions("8.2", "8.2.0")).toBe(0);
		expect(compareVersions("7.2.0", "8.2.0")).toBe(-1);
	});
});
