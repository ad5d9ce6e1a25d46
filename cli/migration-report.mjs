// @ts-check
// How a migration record reads for people: the risk assessment (each rule
// against its threshold), the validation sets with what their subtasks did,
// a dry run's verdict, and the line saying where a migration stands.
import { exitCodes, printTable } from "./output.mjs";

const barWidth = 20;

/** One rule's score drawn as a bar with its threshold marked `|`. */
function scoreBar(/** @type {number} */ score, /** @type {number} */ threshold) {
	const filled = Math.round((Math.max(0, Math.min(100, score)) / 100) * barWidth);
	const mark = Math.min(barWidth - 1, Math.round((threshold / 100) * barWidth));
	return Array.from({ length: barWidth }, (_, index) =>
		index === mark ? "|" : index < filled ? "█" : "·",
	).join("");
}

const formatScore = (/** @type {number} */ score) =>
	Number.isInteger(score) ? String(score) : score.toFixed(1);

/** Prints each rule's score against its threshold and the set it would trigger. */
export function printRules(/** @type {any} */ migration) {
	printTable(
		(migration.assessment?.rules ?? []).map((/** @type {any} */ rule) => ({
			rule: rule.id,
			score: `${scoreBar(rule.score, rule.threshold)} ${formatScore(rule.score)}`,
			threshold: rule.threshold,
			validationSet: rule.validationSet,
			triggered: rule.triggered ? "yes" : "no",
		})),
		["rule", "score", "threshold", "validationSet", "triggered"],
	);
}

/** Prints the validation sets with their subtasks' statuses, then what ran. */
export function printValidation(/** @type {any} */ migration) {
	printTable(
		(migration.validationSets ?? []).map((/** @type {any} */ set) => ({
			validationSet: set.id,
			status: set.status,
			subtasks: (set.subtasks ?? [])
				.map((/** @type {any} */ subtask) => `${subtask.id}:${subtask.status}`)
				.join(" "),
		})),
		["validationSet", "status", "subtasks"],
		{ wrap: ["subtasks"] },
	);
	const summary = validationSummary(migration);
	if (summary) console.log(`\n${summary}`);
}

/** The whole assessment: the rules, then the validation they selected. */
export function printRiskTable(/** @type {any} */ migration) {
	printRules(migration);
	console.log("");
	printValidation(migration);
}

/**
 * What validation did, counted from the subtasks' states rather than from
 * the assessment's plan: a migration that fails on a builtin check never
 * sends its agent subtasks, which end `skipped` though they were selected.
 * @returns {string | undefined}
 */
function validationSummary(/** @type {any} */ migration) {
	const { subtasksTotal, subtasksSkipped, validationSecondsPlanned, validationSecondsAvoided } =
		migration.assessment ?? {};
	if (typeof subtasksTotal !== "number" || typeof subtasksSkipped !== "number") return undefined;
	/** @type {Array<{status: string}>} */
	const subtasks = (migration.validationSets ?? []).flatMap(
		(/** @type {any} */ set) => set.subtasks ?? [],
	);
	const count = (/** @type {string} */ status) =>
		subtasks.filter((subtask) => subtask.status === status).length;
	const [passed, failed] = [count("passed"), count("failed")];
	const outcomes = [passed && `${passed} passed`, failed && `${failed} failed`].filter(Boolean);
	const parts = [`${passed + failed} run${outcomes.length > 0 ? ` (${outcomes.join(", ")})` : ""}`];
	for (const status of ["running", "pending"]) {
		if (count(status) > 0) parts.push(`${count(status)} ${status}`);
	}
	// Skipped beyond what the assessment skipped: selected, then abandoned when the migration ended.
	const abandoned = count("skipped") - subtasksSkipped;
	if (abandoned > 0) {
		const ended = migration.state === "cancelled" ? "was cancelled" : "failed";
		parts.push(`${abandoned} not run: the migration ${ended} first`);
	}
	const seconds =
		typeof validationSecondsPlanned === "number"
			? ` (~${validationSecondsPlanned} s of checks planned, ~${validationSecondsAvoided} s avoided)`
			: "";
	const selected = subtasksTotal - subtasksSkipped;
	return `validation: ${selected} of ${subtasksTotal} subtasks selected; ${parts.join("; ")}${seconds}`;
}

/** `1 agent check`, `3 agent checks`. */
const counted = (/** @type {number} */ count, /** @type {string} */ noun) =>
	`${count} ${noun}${count === 1 ? "" : "s"}`;

/**
 * A dry run's verdict in one line: whether the migration would start, the
 * sets that would run and the checks that would fail. The server's preview
 * already evaluated the builtin checks; agent checks only run for real.
 */
export function dryRunVerdict(/** @type {any} */ migration) {
	/** @type {any[]} */
	const selected = (migration.validationSets ?? []).filter(
		(/** @type {any} */ set) => (set.triggeredBy ?? []).length > 0,
	);
	const sets =
		selected.length > 0
			? `sets that would run: ${selected.map((set) => set.id).join(", ")}`
			: "no validation set would run";
	const subtasks = selected.flatMap((set) =>
		(set.subtasks ?? []).map((/** @type {any} */ subtask) => ({ ...subtask, setId: set.id })),
	);
	if (migration.state === "failed") {
		const failing = subtasks
			.filter((subtask) => subtask.status === "failed")
			.map(
				(subtask) =>
					`${subtask.setId}/${subtask.id}${subtask.detail ? ` (${subtask.detail})` : ""}`,
			);
		const why =
			failing.length > 0
				? `validation would fail on ${failing.join("; ")}`
				: (migration.failure?.reason ?? "validation would fail");
		return `verdict: would be refused: ${why}; ${sets}`;
	}
	const passed = subtasks.filter((subtask) => subtask.status === "passed").length;
	const agentChecks = subtasks.filter((subtask) => subtask.status === "pending").length;
	const builtin = passed > 0 ? `${counted(passed, "builtin check")} passed, ` : "";
	const next =
		agentChecks > 0
			? `${counted(agentChecks, "agent check")} on the hosts would decide`
			: "the VM would move at once";
	return `verdict: would start: ${sets}; ${builtin}${next}`;
}

/** Where a migration stands in one line, e.g. `migration M failed in validation: …`. */
export function outcomeLine(/** @type {any} */ migration) {
	const why = migration.failure
		? ` in ${migration.failure.stage}: ${migration.failure.reason}`
		: migration.cancellation
			? `: ${migration.cancellation.detail}`
			: "";
	return `migration ${migration.migrationId} ${migration.state}${why}`;
}

/** The exit code of a record: 8 once it failed or was cancelled (a dry run's preview too). */
export function exitCodeOf(/** @type {any} */ migration) {
	return migration.state === "failed" || migration.state === "cancelled"
		? exitCodes.operationFailed
		: exitCodes.ok;
}
