// Proves the pure validation transitions: dispatch gives running agent
// subtasks a deadline, results apply only to running subtasks, overdue ones
// fail, any failure fails the verdict, and open work keeps it waiting.
// Does not cover persistence or the agent channel.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	abandonOpen,
	applyResult,
	dispatchPending,
	expireOverdue,
	nextDeadlineMs,
	setStatusOf,
	verdictOf,
} from "../../shared/risk/progress";
import type { SetState, WorkStatus } from "../../shared/schemas/migrations";

const startMs = Date.parse("2026-11-24T12:00:00Z");

function sets(): SetState[] {
	return [
		{
			id: "s1",
			status: "pending",
			reason: "",
			triggeredBy: ["r1"],
			subtasks: [
				{ id: "check", kind: "builtin", status: "passed", costSeconds: 0 },
				{ id: "probe", kind: "agent", status: "pending", costSeconds: 30, timeoutSeconds: 60 },
			],
		},
		{
			id: "s2",
			status: "skipped",
			reason: "",
			triggeredBy: [],
			subtasks: [{ id: "probe", kind: "agent", status: "skipped", costSeconds: 30 }],
		},
	];
}

describe("validation progress", () => {
	it("dispatches only pending agent subtasks of selected sets, with deadlines", () => {
		const { sets: next, dispatched } = dispatchPending(sets(), startMs);
		expect(dispatched).toEqual(["s1/probe"]);
		expect(next[0]?.status).toBe("running");
		expect(next[1]?.status).toBe("skipped");
		expect(nextDeadlineMs(next)).toBe(startMs + 60_000);
		expect(verdictOf(next)).toEqual({ verdict: "waiting" });
	});

	it("passes when every selected subtask passed", () => {
		const running = dispatchPending(sets(), startMs).sets;
		const { sets: next, applied } = applyResult(running, "s1/probe", true, undefined);
		expect(applied).toBe(true);
		expect(next[0]?.status).toBe("passed");
		expect(verdictOf(next)).toEqual({ verdict: "passed" });
	});

	it("fails with the subtask and its detail when an agent reports a failure", () => {
		const running = dispatchPending(sets(), startMs).sets;
		const { sets: next } = applyResult(running, "s1/probe", false, "no path to LUN 7");
		expect(verdictOf(next)).toEqual({
			verdict: "failed",
			reason: "s1/probe failed: no path to LUN 7",
		});
	});

	it("ignores a result for a subtask that is not running", () => {
		const running = dispatchPending(sets(), startMs).sets;
		expect(applyResult(running, "s2/probe", false, undefined).applied).toBe(false);
		const done = applyResult(running, "s1/probe", true, undefined).sets;
		expect(applyResult(done, "s1/probe", false, undefined).applied).toBe(false);
	});

	it("fails a running subtask once its deadline passes, not before", () => {
		const running = dispatchPending(sets(), startMs).sets;
		expect(verdictOf(expireOverdue(running, startMs + 59_999))).toEqual({ verdict: "waiting" });
		const expired = expireOverdue(running, startMs + 60_000);
		expect(verdictOf(expired)).toEqual({
			verdict: "failed",
			reason: "s1/probe failed: no result within 60 s",
		});
	});

	it("marks open work skipped with the reason once the migration ended", () => {
		const running = dispatchPending(sets(), startMs).sets;
		const abandoned = abandonOpen(running, "migration cancelled");
		expect(abandoned[0]?.subtasks[1]).toMatchObject({
			status: "skipped",
			detail: "migration cancelled",
		});
		expect(nextDeadlineMs(abandoned)).toBeUndefined();
	});

	it("derives a set's status: any failure fails it, open work keeps it open", () => {
		const statuses: WorkStatus[] = ["skipped", "pending", "running", "passed", "failed"];
		fc.assert(
			fc.property(fc.array(fc.constantFrom(...statuses), { minLength: 1 }), (list) => {
				const status = setStatusOf(list.map((item) => ({ status: item })));
				if (list.includes("failed")) expect(status).toBe("failed");
				else if (list.includes("running")) expect(status).toBe("running");
				else if (list.includes("pending")) expect(status).toBe("pending");
				else if (list.every((item) => item === "skipped")) expect(status).toBe("skipped");
				else expect(status).toBe("passed");
			}),
		);
	});
});
