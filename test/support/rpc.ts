/**
 * The error an RPC call rejects with (a refusal, thrown again by the stub
 * accessors of durable-objects/stubs.ts, or a fault), or undefined when it
 * succeeds. Written with an explicit `then(onFulfilled, onRejected)` so the
 * rejection is handled exactly once: `expect(…).rejects` can leave a second,
 * unhandled branch behind.
 */
export function rpcError(call: Promise<unknown>): Promise<unknown> {
	return call.then(
		() => undefined,
		(error: unknown) => error,
	);
}
