// Proves the refusal convention of Durable Object RPC (durable-objects/refusals.ts):
// an object's async methods answer a Problem as a result instead of throwing it
// (workerd reports a thrown one as an uncaught error), and a caller's view
// throws it again as a Problem; other errors and synchronous helpers are left
// as they were. The integration tests prove it across real stubs.
import { describe, expect, it } from "vitest";
import { answerRefusals, refusalsThrown, throwIfRefused } from "../../durable-objects/refusals";
import { asProblem, Problem } from "../../shared/problem";

class Sample {
	calls = 0;
	async refuse(): Promise<never> {
		this.calls++;
		throw new Problem("too_many_attempts", "slow down", { retryAfterSeconds: 30 });
	}
	async fail(): Promise<never> {
		throw new TypeError("a bug");
	}
	async answer(value: number): Promise<number> {
		return value * 2;
	}
	async fault(): Promise<never> {
		throw new Problem("internal", "some members did not answer");
	}
	count(): number {
		return this.calls;
	}
	check(): never {
		throw new Problem("vm_not_found", "no such VM");
	}
}
answerRefusals(Sample);

describe("refusals across RPC", () => {
	it("answers a Problem as a result, with everything a caller needs to throw it again", async () => {
		const answered = await new Sample().refuse();
		expect(() => throwIfRefused(answered)).toThrow(Problem);
		try {
			throwIfRefused(answered);
		} catch (error) {
			expect(asProblem(error)).toMatchObject({
				code: "too_many_attempts",
				message: "slow down",
				retryAfterSeconds: 30,
			});
		}
	});

	it("throws the Problem again through the caller's view, with `this` kept", async () => {
		const sample = new Sample();
		await expect(refusalsThrown(sample).refuse()).rejects.toMatchObject({
			code: "too_many_attempts",
		});
		expect(sample.calls).toBe(1);
		expect(await refusalsThrown(sample).answer(21)).toBe(42);
	});

	it("still throws errors that are not Problems, and internal faults, and leaves synchronous helpers alone", async () => {
		await expect(new Sample().fail()).rejects.toThrow(TypeError);
		await expect(new Sample().fault()).rejects.toMatchObject({ code: "internal" });
		expect(() => new Sample().check()).toThrow(Problem);
		expect(() => refusalsThrown(new Sample()).check()).toThrow(Problem);
		expect(refusalsThrown(new Sample()).count()).toBe(0);
	});
});
