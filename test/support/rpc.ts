import { throwIfRefused } from "../../durable-objects/refusals";

/**
 * The error an RPC call rejects with or the Problem its object answered with
 * (see durable-objects/refusals.ts), or undefined when it succeeds. Written
 * with an explicit `then(onFulfilled, onRejected)` so the rejection is handled
 * exactly once: RPC results in tests are pipelining thenables, and
 * `expect(…).rejects` can leave a second, unhandled branch behind.
 */
export function rpcError(call: Promise<unknown>): Promise<unknown> {
	return call.then(
		(value) => {
			try {
				throwIfRefused(value);
				return undefined;
			} catch (problem) {
				return problem;
			}
		},
		(error: unknown) => error,
	);
}
