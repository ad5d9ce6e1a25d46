/**
 * One migration explained: a live progress bar, each rule's score drawn as a
 * bar against its threshold, the validation sets that ran or were skipped and
 * why, and the work avoided. Kept live by the events stream, read with fetch
 * (EventSource cannot send the admin bearer header) and parsed by shared/sse.ts.
 */
import { createSseParser } from "../../shared/sse";
import { segment, send } from "./api";
import { h, table } from "./dom";
import type { MigrationRecord, RuleOutcome, SetState } from "./types";

const terminalStates = new Set(["completed", "failed", "cancelled"]);

/** The record drawn as one section. */
export function renderMigrationRecord(record: MigrationRecord): HTMLElement {
	const { assessment } = record;
	const percent = Math.max(0, Math.min(100, record.progress.percent));
	return h(
		"section",
		{ class: "migration", "data-state": record.state },
		h(
			"h1",
			{},
			"Migration of ",
			h("code", {}, record.vmId),
			` ${record.sourceHostId} → ${record.targetHostId}`,
		),
		h(
			"p",
			{},
			h("span", { class: `state ${record.state}`, id: "migration-state" }, record.state),
			record.progress.phase ? ` · ${record.progress.phase}` : "",
			record.failure ? ` · failed in ${record.failure.stage}: ${record.failure.reason}` : "",
		),
		h(
			"div",
			{ class: "progress", role: "progressbar", "aria-valuenow": Math.round(percent) },
			h("div", { class: "fill", style: `width: ${percent}%` }),
			h("span", {}, `${Math.round(percent)} %`),
		),
		h("h2", {}, "Risk rules"),
		h("div", { class: "risk" }, ...assessment.rules.map(riskBar)),
		h(
			"p",
			{ class: "muted" },
			`${assessment.subtasksSkipped} of ${assessment.subtasksTotal} subtasks skipped; ` +
				`validation planned ${assessment.validationSecondsPlanned} s, avoided ${assessment.validationSecondsAvoided} s.`,
		),
		h("h2", {}, "Validation sets"),
		table(
			[
				{ title: "Set", cell: (set: SetState) => h("code", {}, set.id) },
				{ title: "Status", cell: (set) => h("span", { class: `state ${set.status}` }, set.status) },
				{ title: "Why", cell: (set) => set.reason },
				{
					title: "Subtasks",
					cell: (set) =>
						h(
							"ul",
							{ class: "subtasks" },
							...set.subtasks.map((subtask) =>
								h(
									"li",
									{},
									h("span", { class: `state ${subtask.status}` }, subtask.status),
									` ${subtask.id} (${subtask.kind})`,
									subtask.detail ? ` — ${subtask.detail}` : "",
								),
							),
						),
				},
			],
			record.validationSets,
			{ class: "sets" },
		),
	);
}

/** One rule: its score as a bar, its threshold as a marker on the same 0–100 scale. */
function riskBar(rule: RuleOutcome): HTMLElement {
	const score = Math.max(0, Math.min(100, rule.score));
	return h(
		"div",
		{ class: `rule${rule.triggered ? " triggered" : ""}`, "data-rule": rule.id },
		h("span", { class: "name" }, rule.id),
		h(
			"div",
			{ class: "bar", title: `score ${rule.score} / threshold ${rule.threshold}` },
			h("div", { class: "score", style: `width: ${score}%` }),
			h("div", { class: "threshold", style: `left: ${rule.threshold}%` }),
		),
		h(
			"span",
			{ class: "numbers" },
			`${Math.round(rule.score)} / ${rule.threshold}`,
			rule.triggered ? ` → ${rule.validationSet}` : "",
			rule.error ? ` (error: ${rule.error})` : "",
		),
	);
}

/**
 * Calls `onChange` with every new version of the record from the events
 * stream until the migration ends or `signal` aborts; resumes after a dropped
 * stream with Last-Event-ID.
 */
export async function followMigration(
	migrationId: string,
	initial: MigrationRecord,
	onChange: (record: MigrationRecord) => void,
	signal: AbortSignal,
): Promise<void> {
	let state = initial.state;
	let lastEventId: string | undefined;
	for (let attempt = 0; !terminalStates.has(state) && !signal.aborted && attempt < 5; attempt++) {
		try {
			const response = await send("GET", `/v1/migrations/${segment(migrationId)}/events`, {
				accept: "text/event-stream",
				signal,
				...(lastEventId ? { headers: { "Last-Event-ID": lastEventId } } : {}),
			});
			const reader = (response.body as ReadableStream<Uint8Array>).getReader();
			const decoder = new TextDecoder();
			const parser = createSseParser();
			for (;;) {
				const { done, value } = await reader.read();
				if (done) break;
				for (const event of parser.push(decoder.decode(value, { stream: true }))) {
					lastEventId = event.id ?? lastEventId;
					const record = JSON.parse(event.data) as MigrationRecord;
					state = record.state;
					onChange(record);
				}
				if (terminalStates.has(state)) {
					await reader.cancel();
					return;
				}
			}
		} catch (error) {
			if (signal.aborted) return;
			if (!(error instanceof SyntaxError) && attempt === 4) throw error;
		}
	}
}
