/**
 * Refusals across Durable Object RPC as results, not exceptions. workerd
 * reports every exception an RPC method throws as an uncaught error of the
 * object (a `✘ [ERROR] Uncaught …` line under `wrangler dev`, an errored
 * invocation in production), yet most are ordinary answers: an unknown VM, a
 * wrong key, an address no mapping covers. So a Problem leaves an object as a
 * marked result and becomes a Problem again on the caller's side; anything
 * else still throws, and is still reported.
 */
import { asProblem, type ProblemCode } from "../shared/problem";

/** The key of a refusal result; no RPC method answers an object carrying it otherwise. */
const refusalKey = "edgevisor:refusal";

interface Refusal {
	[refusalKey]: { code: ProblemCode; message: string; retryAfterSeconds?: number };
}

/** Handlers workerd calls itself: their exceptions are not answers to a caller. */
const lifecycleHandlers = new Set([
	"constructor",
	"fetch",
	"alarm",
	"webSocketMessage",
	"webSocketClose",
	"webSocketError",
]);

/**
 * Makes every `async` method of a Durable Object class answer a Problem as a
 * refusal result; callers see it thrown again through `refusalsThrown`. So
 * an `async` method is RPC surface: a helper the object's own parts call and
 * that throws Problems is synchronous, `#private`, or called through
 * `refusalsThrown(this)`. `internal` is a fault, not an answer: it still throws.
 */
export function answerRefusals(objectClass: { prototype: object }): void {
	const prototype = objectClass.prototype as Record<string, unknown>;
	for (const name of Object.getOwnPropertyNames(prototype)) {
		const method = Object.getOwnPropertyDescriptor(prototype, name)?.value;
		if (lifecycleHandlers.has(name) || method?.constructor?.name !== "AsyncFunction") continue;
		prototype[name] = async function (this: unknown, ...args: unknown[]) {
			try {
				return await method.apply(this, args);
			} catch (error) {
				const problem = asProblem(error);
				if (!problem || problem.code === "internal") throw error;
				const { code, message, retryAfterSeconds } = problem;
				return { [refusalKey]: { code, message, retryAfterSeconds } } satisfies Refusal;
			}
		};
	}
}

function isRefusal(value: unknown): value is Refusal {
	return typeof value === "object" && value !== null && refusalKey in value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
	return (
		(typeof value === "object" || typeof value === "function") &&
		value !== null &&
		typeof (value as { then?: unknown }).then === "function"
	);
}

/** `value`, or the Problem it carries thrown. */
export function throwIfRefused<T>(value: T): T {
	if (!isRefusal(value)) return value;
	throw asProblem(value[refusalKey]);
}

/**
 * A view of a stub (or of an object itself) whose method calls throw the
 * Problems their objects answered with, as if they had been thrown across.
 */
export function refusalsThrown<T extends object>(target: T): T {
	return new Proxy(target, {
		get(object, property) {
			const member = Reflect.get(object, property);
			if (typeof member !== "function") return member;
			// Called on the target itself (a stub's native methods refuse another
			// `this`), and through Reflect.apply: an RPC method stub answers any
			// property, `apply` included, as a remote call.
			const call = (...args: unknown[]) => Reflect.apply(member, object, args);
			if (property === "fetch") return call;
			return (...args: unknown[]) => {
				const result = call(...args);
				// A synchronous member stays synchronous.
				return isThenable(result) ? Promise.resolve(result).then(throwIfRefused) : result;
			};
		},
	});
}
