// Proves the agent's ack batching (agent/ack-batcher.mjs): commands received
// in one event-loop turn are acked in one `ids` frame, a lone command as the
// contract's `{id}`, and `flush()` sends what is pending at once (before a
// deliberate disconnect). That the server honours these frames is proven in
// test/integration/agent.test.ts; this file needs no server.
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { createAckBatcher } from "../../agent/ack-batcher.mjs";

function recorder() {
	const frames: unknown[] = [];
	const batcher: { ack(id: string): void; flush(): void } = createAckBatcher((frame: string) =>
		frames.push(JSON.parse(frame)),
	);
	return { frames, batcher };
}

describe("agent ack batching", () => {
	it("acks commands received in one turn with one ids frame", async () => {
		const { frames, batcher } = recorder();
		for (const id of ["a", "b", "c"]) batcher.ack(id);
		expect(frames).toEqual([]);
		await nextTurn();
		expect(frames).toEqual([{ type: "ack", ids: ["a", "b", "c"] }]);
	});

	it("acks a lone command with the contract's id frame", async () => {
		const { frames, batcher } = recorder();
		batcher.ack("a");
		await nextTurn();
		batcher.ack("b");
		await nextTurn();
		expect(frames).toEqual([
			{ type: "ack", id: "a" },
			{ type: "ack", id: "b" },
		]);
	});

	it("sends pending acks at once on flush, and nothing twice", async () => {
		const { frames, batcher } = recorder();
		batcher.ack("a");
		batcher.ack("b");
		batcher.flush();
		expect(frames).toEqual([{ type: "ack", ids: ["a", "b"] }]);
		await nextTurn();
		expect(frames).toHaveLength(1);
	});
});
