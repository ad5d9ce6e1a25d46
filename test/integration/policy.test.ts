// Proves GET/PUT /v1/migration-policy: admin only, the default policy until
// one is stored, and invalid_policy (with every issue named) for policies
// that do not compile, type-check or reference their sets — leaving the
// policy in force unchanged. The engine's semantics are in test/unit/risk*.
import { describe, expect, it } from "vitest";
import { defaultPolicy } from "../../shared/default-policy";
import type { MigrationPolicy } from "../../shared/schemas/migrations";
import { admin, call, problemOf } from "../support/http";

function policyWith(score: string, validationSet = "s1"): MigrationPolicy {
	return {
		rules: [{ id: "r1", description: "test rule", score, threshold: 50, validationSet }],
		validationSets: [
			{ id: "s1", description: "test set", subtasks: [{ id: "probe", kind: "agent" }] },
		],
	};
}

async function policyInForce(): Promise<MigrationPolicy> {
	return (await (await admin("GET", "/v1/migration-policy")).json()) as MigrationPolicy;
}

async function expectInvalidPolicy(body: unknown, detail: RegExp) {
	const before = await policyInForce();
	const response = await admin("PUT", "/v1/migration-policy", body);
	expect(response.status).toBe(400);
	const problem = await problemOf(response);
	expect(problem.code).toBe("invalid_policy");
	expect(problem.detail).toMatch(detail);
	expect(await policyInForce()).toEqual(before);
}

describe("migration policy", () => {
	it("is the default policy until one is stored", async () => {
		const response = await admin("GET", "/v1/migration-policy");
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual(defaultPolicy);
	});

	it("refuses both routes without the admin token", async () => {
		expect((await call("/v1/migration-policy")).status).toBe(401);
		const put = await call("/v1/migration-policy", {
			method: "PUT",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify(policyWith("0")),
		});
		expect(put.status).toBe(401);
		expect(await policyInForce()).toEqual(defaultPolicy);
	});

	it("stores a valid policy and answers with the policy now in force", async () => {
		const policy = policyWith("source.site != target.site ? 80 : 0");
		const response = await admin("PUT", "/v1/migration-policy", policy);
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual(policy);
		expect(await policyInForce()).toEqual(policy);
		await admin("PUT", "/v1/migration-policy", defaultPolicy);
	});

	it("refuses a score that does not compile", async () => {
		await expectInvalidPolicy(policyWith("vm.memoryMiB >"), /rule "r1" score does not compile/);
	});

	it("refuses a score that is not a number", async () => {
		await expectInvalidPolicy(policyWith("'high'"), /expected a number, got string/);
	});

	it("refuses a rule naming a missing set", async () => {
		await expectInvalidPolicy(
			policyWith("0", "nope"),
			/names validation set "nope", which is missing/,
		);
	});

	it("refuses duplicate rule ids", async () => {
		const policy = policyWith("0");
		policy.rules = [...policy.rules, ...policy.rules];
		await expectInvalidPolicy(policy, /rule id "r1" is used more than once/);
	});

	it("refuses a builtin check that is not a bool", async () => {
		const policy = policyWith("0");
		policy.validationSets = [
			{ id: "s1", description: "", subtasks: [{ id: "c", kind: "builtin", check: "vm.vcpus" }] },
		];
		await expectInvalidPolicy(policy, /subtask "s1\/c" check: expected a bool, got number/);
	});

	it("names every issue of a policy at once: a score that does not compile and an empty set", async () => {
		const policy = policyWith("vm.memoryMiB >");
		policy.validationSets = [...policy.validationSets, { id: "s2", subtasks: [] }];
		await expectInvalidPolicy(
			policy,
			/rule "r1" score does not compile.*validation set "s2" has no subtasks|validation set "s2" has no subtasks.*rule "r1" score does not compile/s,
		);
	});

	it("names the kinds' issues with every other: a builtin without a check, an agent subtask with one, a score that does not compile", async () => {
		const policy = policyWith("vm.memoryMiB >");
		const subtasks = [
			{ id: "b", kind: "builtin" },
			{ id: "a", kind: "agent", check: "true" },
			{ id: "t", kind: "builtin", check: "true", timeoutSeconds: 5 },
		];
		const body = { ...policy, validationSets: [{ id: "s1", subtasks }] };
		const before = await policyInForce();
		const response = await admin("PUT", "/v1/migration-policy", body);
		const problem = await problemOf(response);
		expect([response.status, problem.code]).toEqual([400, "invalid_policy"]);
		for (const issue of [
			`subtask "s1/b" is builtin and needs a check`,
			`subtask "s1/a" is run by the agent and cannot have a check`,
			`subtask "s1/t" is builtin and cannot have a timeout`,
			`rule "r1" score does not compile`,
		]) {
			expect(problem.detail).toContain(issue);
		}
		expect(await policyInForce()).toEqual(before);
	});

	it("stores a subtask in its kind's shape: a field its kind does not have is dropped", async () => {
		const policy = policyWith("0");
		const body = {
			...policy,
			validationSets: [
				{ id: "s1", subtasks: [{ id: "b", kind: "builtin", check: "true", runsOn: "target" }] },
			],
		};
		const response = await admin("PUT", "/v1/migration-policy", body);
		expect(response.status).toBe(200);
		const stored = {
			...policy,
			validationSets: [{ id: "s1", subtasks: [{ id: "b", kind: "builtin", check: "true" }] }],
		};
		expect(await response.json()).toEqual(stored);
		expect(await policyInForce()).toEqual(stored);
		await admin("PUT", "/v1/migration-policy", defaultPolicy);
	});

	it("refuses a body that violates the schema with invalid_request naming the field", async () => {
		const response = await admin("PUT", "/v1/migration-policy", { rules: [{ id: "r1" }] });
		expect(response.status).toBe(400);
		const problem = await problemOf(response);
		expect(problem.code).toBe("invalid_request");
		expect(problem.detail).toMatch(/rules\.0\.score/);
	});
});
