/**
 * Refusals across Durable Object RPC as results, not exceptions. workerd
 * reports every exception an RPC method throws as an uncaught error of the
 * object (a `✘ [ERROR] Uncaught …` line under `wrangler dev`, an errored
 * invocation in production), yet most are ordinary answers: an unknown VM, a
 * wrong key, an address no mapping covers. So an RPC method that can refuse
 * says so in its type, `Answer<T>`, and runs its work through `answer`: a
 * Problem leaves the object as a `Refusal` value. Callers reach objects
 * through ./stubs.ts, the one place that turns a refusal back into the
 * Problem it carries. Anything else still throws, and is still reported.
 */
import { asProblem, type ProblemCode } from "../shared/problem";

/** The key of a refusal; no RPC method answers an object carrying it otherwise. */
const refusalKey = "edgevisor:refusal";

/** A Problem an object answered with, as a plain value RPC can carry. */
export interface Refusal {
	readonly [refusalKey]: { code: ProblemCode; message: string; retryAfterSeconds?: number };
}

/** What an RPC method that can refuse resolves to: its value, or a refusal. */
export type Answer<T> = Promise<T | Refusal>;

/**
 * Runs an RPC method's work and answers a Problem it throws as a refusal.
 * `internal` is a fault, not an answer: it still throws, as does anything
 * that is not a Problem.
 */
export async function answer<T>(work: () => T | Promise<T>): Answer<T> {
	try {
		return await work();
	} catch (error) {
		const problem = asProblem(error);
		if (!problem || problem.code === "internal") throw error;
		const { code, message, retryAfterSeconds } = problem;
		return { [refusalKey]: { code, message, retryAfterSeconds } };
	}
}

export function isRefusal(value: unknown): value is Refusal {
	return typeof value === "object" && value !== null && refusalKey in value;
}

/** `value`, or the Problem its refusal carries, thrown. */
export function unwrap<T>(value: T | Refusal): T {
	if (!isRefusal(value)) return value;
	throw asProblem(value[refusalKey]);
}
