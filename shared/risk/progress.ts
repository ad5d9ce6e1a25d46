/**
 * Pure transitions of a migration's validation sets while it validates:
 * dispatching agent subtasks, applying their results and timeouts, and the
 * verdict. The VirtualMachine object persists what these return.
 */
import type { SetState, SubtaskState, WorkStatus } from "../schemas/migrations";

/** The key an agent subtask is known by in `validation.run`/`validation.result`. */
export function subtaskKey(setId: string, subtaskId: string): string {
	return `${setId}/${subtaskId}`;
}

/** The set and subtask ids of a key made by `subtaskKey`. */
export function parseSubtaskKey(key: string): { validationSet: string; subtask: string } {
	const slash = key.indexOf("/");
	return { validationSet: key.slice(0, slash), subtask: key.slice(slash + 1) };
}

/**
 * The key a `validation.result` answers: its set and subtask when it names
 * the set; otherwise the one running subtask with that id (undefined when
 * none or several are). A `set/subtask` id, as older agents echo it back,
 * is taken as the key itself.
 */
export function resultKey(
	sets: SetState[],
	subtask: string,
	validationSet: string | undefined,
): string | undefined {
	if (validationSet !== undefined) return subtaskKey(validationSet, subtask);
	if (subtask.includes("/")) return subtask;
	const running = sets.flatMap((set) =>
		set.subtasks
			.filter((one) => one.id === subtask && one.status === "running")
			.map(() => subtaskKey(set.id, subtask)),
	);
	return running.length === 1 ? running[0] : undefined;
}

/** A set's status from its subtasks: any failure fails it; work left keeps it open. */
export function setStatusOf(subtasks: ReadonlyArray<{ status: WorkStatus }>): WorkStatus {
	const statuses = new Set(subtasks.map((subtask) => subtask.status));
	if (statuses.has("failed")) return "failed";
	if (statuses.has("running")) return "running";
	if (statuses.has("pending")) return "pending";
	if (statuses.size === 1 && statuses.has("skipped")) return "skipped";
	return "passed";
}

function mapSubtasks(
	sets: SetState[],
	change: (subtask: SubtaskState, setId: string) => SubtaskState,
): SetState[] {
	return sets.map((set) => {
		if (set.status === "skipped") return set;
		const subtasks = set.subtasks.map((subtask) => change(subtask, set.id));
		return { ...set, subtasks, status: setStatusOf(subtasks) };
	});
}

/** Marks pending agent subtasks running with their deadlines; returns their keys. */
export function dispatchPending(
	sets: SetState[],
	nowMs: number,
): { sets: SetState[]; dispatched: string[] } {
	const dispatched: string[] = [];
	const next = mapSubtasks(sets, (subtask, setId) => {
		if (subtask.kind !== "agent" || subtask.status !== "pending") return subtask;
		dispatched.push(subtaskKey(setId, subtask.id));
		const deadlineMs = nowMs + (subtask.timeoutSeconds ?? 0) * 1000;
		return { ...subtask, status: "running", deadline: new Date(deadlineMs).toISOString() };
	});
	return { sets: next, dispatched };
}

/** Applies an agent's result to a running subtask; anything else is left as is. */
export function applyResult(
	sets: SetState[],
	key: string,
	ok: boolean,
	detail: string | undefined,
): { sets: SetState[]; applied: boolean } {
	let applied = false;
	const next = mapSubtasks(sets, (subtask, setId) => {
		if (subtaskKey(setId, subtask.id) !== key || subtask.status !== "running") return subtask;
		applied = true;
		const { deadline: _deadline, ...rest } = subtask;
		return { ...rest, status: ok ? "passed" : "failed", ...(detail ? { detail } : {}) };
	});
	return { sets: next, applied };
}

/** Fails every running subtask whose deadline has passed. */
export function expireOverdue(sets: SetState[], nowMs: number): SetState[] {
	return mapSubtasks(sets, (subtask) => {
		if (subtask.status !== "running" || !subtask.deadline) return subtask;
		if (Date.parse(subtask.deadline) > nowMs) return subtask;
		const { deadline: _deadline, ...rest } = subtask;
		return {
			...rest,
			status: "failed",
			detail: `no result within ${subtask.timeoutSeconds} s`,
		};
	});
}

/** Work that will never finish once the migration ended: marked skipped with why. */
export function abandonOpen(sets: SetState[], why: string): SetState[] {
	return mapSubtasks(sets, (subtask) => {
		if (subtask.status !== "running" && subtask.status !== "pending") return subtask;
		const { deadline: _deadline, ...rest } = subtask;
		return { ...rest, status: "skipped", detail: why };
	});
}

/** The earliest deadline of a running subtask, in ms since the epoch. */
export function nextDeadlineMs(sets: SetState[]): number | undefined {
	const deadlines = sets
		.flatMap((set) => set.subtasks)
		.filter((subtask) => subtask.status === "running" && subtask.deadline)
		.map((subtask) => Date.parse(subtask.deadline as string));
	return deadlines.length > 0 ? Math.min(...deadlines) : undefined;
}

/** Where validation stands: failed (with the first reason), passed, or still waiting. */
export function verdictOf(
	sets: SetState[],
): { verdict: "failed"; reason: string } | { verdict: "passed" | "waiting" } {
	for (const set of sets) {
		const failed = set.subtasks.find((subtask) => subtask.status === "failed");
		if (failed) {
			return {
				verdict: "failed",
				reason: `${subtaskKey(set.id, failed.id)} failed${failed.detail ? `: ${failed.detail}` : ""}`,
			};
		}
	}
	const open = sets.some((set) => set.status === "pending" || set.status === "running");
	return { verdict: open ? "waiting" : "passed" };
}
