// Proves problems render as RFC 9457 bodies and survive the trip across a
// Durable Object RPC boundary, where only plain properties are kept.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	asProblem,
	Problem,
	type ProblemCode,
	problemCodes,
	problemDetails,
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
