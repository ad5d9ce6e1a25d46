/**
 * The error an RPC call rejects with, or undefined when it succeeds. Written
 * with an explicit `then(onFulfilled, onRejected)` so the rejection is handled
 * exactly once: RPC results in tests are pipelining thenables, and
 * `expect(…).rejects` can leave a second, unhandled branch behind.
 */
export function rpcError(call: Promise<unknown>): Promise<unknown> {
	return call.then(
		() => undefined,
		(error: unknown) => error,
	);
}
