// Proves the agent's ack batching (agent/ack-batcher.mjs): commands received
// within one window are acked in one `ids` frame, a lone command as the
// contract's `{id}`, and `flush()` sends what is pending at once (before a
// deliberate disconnect). Waits use fake timers, not the clock. That the
// server honours these frames is proven in test/integration/agent.test.ts;
// this file needs no server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { ackWindowMs, createAckBatcher } from "../../agent/ack-batcher.mjs";

const nextWindow = () => vi.advanceTimersByTime(ackWindowMs);

function recorder() {
	const frames: unknown[] = [];
	const batcher: { ack(id: string): void; flush(): void } = createAckBatcher((frame: string) =>
		frames.push(JSON.parse(frame)),
	);
	return { frames, batcher };
}

describe("agent ack batching", () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it("acks commands received within one window with one ids frame", () => {
		const { frames, batcher } = recorder();
		for (const id of ["a", "b", "c"]) batcher.ack(id);
		expect(frames).toEqual([]);
		nextWindow();
		expect(frames).toEqual([{ type: "ack", ids: ["a", "b", "c"] }]);
	});

	it("acks a lone command with the contract's id frame", () => {
		const { frames, batcher } = recorder();
		batcher.ack("a");
		nextWindow();
		batcher.ack("b");
		nextWindow();
		expect(frames).toEqual([
			{ type: "ack", id: "a" },
			{ type: "ack", id: "b" },
		]);
	});

	it("sends pending acks at once on flush, and nothing twice", () => {
		const { frames, batcher } = recorder();
		batcher.ack("a");
		batcher.ack("b");
		batcher.flush();
		expect(frames).toEqual([{ type: "ack", ids: ["a", "b"] }]);
		nextWindow();
		expect(frames).toHaveLength(1);
	});
});
