/**
 * One migration explained: a live progress bar, each rule's score drawn as a
 * bar against its threshold, the validation sets that ran or were skipped and
 * why, and the work avoided. Kept live by the events stream, read with fetch
 * (EventSource cannot send the admin bearer header) and parsed by shared/sse.ts.
 */
import { createSseParser } from "../../shared/sse";
import { api } from "./api";
import { h, table } from "./dom";
import { formatNumber } from "./format";
import type { MigrationRecord, RuleOutcome, SetState } from "./types";

const terminalStates = new Set(["completed", "failed", "cancelled"]);
const streamAttempts = 5;
const pollIntervalMs = 2000;

/** A number on the 0–100 scale, whatever the record holds (it only ever sizes a bar). */
const percentOf = (value: unknown) => Math.max(0, Math.min(100, Number(value) || 0));

/** The record drawn as one section. */
export function renderMigrationRecord(record: MigrationRecord): HTMLElement {
	const { assessment } = record;
	const percent = percentOf(record.progress.percent);
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
				`validation planned ${formatNumber(assessment.validationSecondsPlanned)} s, avoided ${formatNumber(assessment.validationSecondsAvoided)} s.`,
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
	const score = percentOf(rule.score);
	return h(
		"div",
		{ class: `rule${rule.triggered ? " triggered" : ""}`, "data-rule": rule.id },
		h("span", { class: "name" }, rule.id),
		h(
			"div",
			{
				class: "bar",
				title: `score ${formatNumber(rule.score)} / threshold ${formatNumber(rule.threshold)}`,
			},
			h("div", { class: "score", style: `width: ${score}%` }),
			h("div", { class: "threshold", style: `left: ${percentOf(rule.threshold)}%` }),
		),
		h(
			"span",
			{ class: "numbers" },
			`${formatNumber(rule.score)} / ${formatNumber(rule.threshold)}`,
			rule.triggered ? ` → ${rule.validationSet}` : "",
			rule.error ? ` (error: ${rule.error})` : "",
		),
	);
}

/**
 * Calls `onChange` with every new version of the record from the events
 * stream until the migration ends or `signal` aborts. A dropped stream is
 * resumed with Last-Event-ID; if it keeps failing, the record is polled.
 */
export async function followMigration(
	migrationId: string,
	initial: MigrationRecord,
	onChange: (record: MigrationRecord) => void,
	signal: AbortSignal,
): Promise<void> {
	const params = { path: { migrationId } };
	let state = initial.state;
	let lastEventId: string | undefined;
	const ended = () => terminalStates.has(state) || signal.aborted;
	for (let attempt = 0; !ended() && attempt < streamAttempts; attempt++) {
		try {
			const stream = await api.GET("/v1/migrations/{migrationId}/events", {
				params,
				headers: {
					Accept: "text/event-stream",
					...(lastEventId ? { "Last-Event-ID": lastEventId } : {}),
				},
				parseAs: "stream",
				signal,
			});
			const reader = (stream as ReadableStream<Uint8Array>).getReader();
			const decoder = new TextDecoder();
			const parser = createSseParser();
			while (!ended()) {
				const { done, value } = await reader.read();
				if (done) break;
				for (const event of parser.push(decoder.decode(value, { stream: true }))) {
					lastEventId = event.id ?? lastEventId;
					const record = JSON.parse(event.data) as MigrationRecord;
					state = record.state;
					onChange(record);
				}
			}
			await reader.cancel().catch(() => {});
		} catch {
			// Aborted, or the stream broke: the loop decides whether to go on.
		}
	}
	while (!ended()) {
		await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
		if (signal.aborted) return;
		const record = await api.GET("/v1/migrations/{migrationId}", { params }).catch(() => undefined);
		if (record && record.state !== state) onChange(record);
		state = record?.state ?? state;
	}
}
