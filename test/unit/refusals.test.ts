// Proves the refusal convention of Durable Object RPC (durable-objects/refusals.ts
// and the unwrapping in durable-objects/stubs.ts): a method run through
// `answer` returns a Problem as a refusal value instead of throwing it (workerd
// reports a thrown one as an uncaught error), the stub accessors' view throws
// it again as a Problem, and other errors and internal faults still throw. The
// integration tests prove it across real stubs.
import { describe, expect, it } from "vitest";
import { type Answer, answer, isRefusal, unwrap } from "../../durable-objects/refusals";
import { unrefused } from "../../durable-objects/stubs";
import { asProblem, Problem } from "../../shared/problem";

class Sample {
	calls = 0;
	refuse(): Answer<never> {
		return answer(() => {
			this.calls++;
			throw new Problem("too_many_attempts", "slow down", { retryAfterSeconds: 30 });
		});
	}
	fail(): Answer<never> {
		return answer(() => {
			throw new TypeError("a bug");
		});
	}
	double(value: number): Answer<number> {
		return answer(async () => value * 2);
	}
	fault(): Answer<never> {
		return answer(() => {
			throw new Problem("internal", "some members did not answer");
		});
	}
}

describe("refusals across RPC", () => {
	it("answers a Problem as a value, with everything a caller needs to throw it again", async () => {
		const answered = await new Sample().refuse();
		expect(isRefusal(answered)).toBe(true);
		expect(() => unwrap(answered)).toThrow(Problem);
		try {
			unwrap(answered);
		} catch (error) {
			expect(asProblem(error)).toMatchObject({
				code: "too_many_attempts",
				message: "slow down",
				retryAfterSeconds: 30,
			});
		}
	});

	it("throws the Problem again through the stub accessors' view, with `this` kept", async () => {
		const sample = new Sample();
		await expect(unrefused(sample).refuse()).rejects.toMatchObject({ code: "too_many_attempts" });
		expect(sample.calls).toBe(1);
		expect(await unrefused(sample).double(21)).toBe(42);
	});

	it("still throws errors that are not Problems, and internal faults", async () => {
		await expect(new Sample().fail()).rejects.toThrow(TypeError);
		await expect(new Sample().fault()).rejects.toMatchObject({ code: "internal" });
		await expect(unrefused(new Sample()).fault()).rejects.toMatchObject({ code: "internal" });
	});
});
