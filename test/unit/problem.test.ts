// Proves problems render as RFC 9457 bodies and survive the trip across a
// Durable Object RPC boundary, where only plain properties are kept; and that
// `unlessProblem` turns exactly one code into null.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	asProblem,
	Problem,
	type ProblemCode,
	problemCodes,
	problemDetails,
	unlessProblem,
} from "../../shared/problem";

const codes = Object.keys(problemCodes) as ProblemCode[];

describe("problems", () => {
	it("render every code with its contract status and the code itself", () => {
		fc.assert(
			fc.property(fc.constantFrom(...codes), fc.string(), (code, detail) => {
				const body = problemDetails(code, detail);
				expect(body).toMatchObject({ code, detail, status: problemCodes[code].status });
				expect(body.type).toMatch(/^https:\/\//);
			}),
		);
	});

	it("are recovered from a plain object that crossed RPC", () => {
		fc.assert(
			fc.property(
				fc.constantFrom(...codes),
				fc.string(),
				fc.option(fc.nat()),
				(code, message, retry) => {
					const crossed = { name: "Error", message, code, retryAfterSeconds: retry ?? undefined };
					const problem = asProblem(crossed);
					expect(problem?.code).toBe(code);
					expect(problem?.status).toBe(problemCodes[code].status);
					expect(problem?.retryAfterSeconds).toBe(retry ?? undefined);
				},
			),
		);
	});

	it("are not invented for ordinary errors", () => {
		expect(asProblem(new Error("boom"))).toBeUndefined();
		expect(asProblem({ code: "ENOENT", message: "x" })).toBeUndefined();
		expect(asProblem(new Problem("no_free_vf", "full"))?.status).toBe(409);
	});
});

describe("unlessProblem", () => {
	it("passes a value through", async () => {
		expect(await unlessProblem("vm_not_found", Promise.resolve(7))).toBe(7);
	});

	it("turns the named code into null, also as it arrives across RPC", () =>
		fc.assert(
			fc.asyncProperty(fc.constantFrom(...codes), fc.string(), async (code, detail) => {
				const thrown = { code, message: detail };
				expect(await unlessProblem(code, Promise.reject(new Problem(code, detail)))).toBeNull();
				expect(await unlessProblem(code, Promise.reject(thrown))).toBeNull();
			}),
		));

	it("rethrows any other problem or error unchanged", async () => {
		const other = new Problem("key_mismatch", "no");
		await expect(unlessProblem("vm_not_found", Promise.reject(other))).rejects.toBe(other);
		const plain = new Error("boom");
		await expect(unlessProblem("vm_not_found", Promise.reject(plain))).rejects.toBe(plain);
	});
});
