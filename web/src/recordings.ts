/**
 * `#/recordings`: the sessions with a recording to pick from
 * (recording-list.ts), a session's recording played back (asciicast v2 from
 * `GET /v1/sessions/{id}/recording`, replayed with its timing, play/pause and
 * speed, at the header's terminal size and following its resize events), and
 * "watch live" on an open session (live-viewer.ts).
 */

import { asciicastContentType } from "../../shared/asciicast";
import {
	advancePlayback,
	compressIdle,
	delayUntilNextMs,
	durationSeconds,
	type PlaybackPosition,
	parseAsciicast,
} from "../../shared/asciicast-playback";
import { api, describeError } from "./api";
import { errorBox, h } from "./dom";
import { plural } from "./format";
import { watchLive } from "./live-viewer";
import { recordingList } from "./recording-list";
import { hashQuery } from "./route-query";
import { openTerminal } from "./xterm";

/** Pauses longer than this are shortened when the recording does not say otherwise. */
const defaultIdleLimitSeconds = 2;
const speeds = [0.5, 1, 2, 4, 8];

/** Renders the session list and picker; loads a recording or opens a live viewer. */
export async function renderRecordings(root: HTMLElement) {
	const query = hashQuery();
	const sessionInput = h("input", {
		name: "session",
		required: true,
		placeholder: "pick one below, or paste host~uuid",
		value: query.get("session") ?? "",
		size: 48,
	});
	const status = h("p", { class: "status", id: "playback-status" });
	const stage = h("div", { id: "playback" });
	let stop: (() => void) | undefined;
	const run = async (mode: "recording" | "live") => {
		stop?.();
		stop = undefined;
		stage.replaceChildren();
		status.replaceChildren(mode === "live" ? "Opening a viewer…" : "Loading the recording…");
		try {
			const sessionId = sessionInput.value.trim();
			stop =
				mode === "live"
					? await watchLive(sessionId, stage, status)
					: await play(sessionId, stage, status);
		} catch (error) {
			status.replaceChildren(errorBox(describeError(error)));
		}
	};
	const form = h(
		"form",
		{ class: "inline", id: "recording-form" },
		h("label", {}, "Session", sessionInput),
		h("button", { type: "submit" }, "Play recording"),
		h(
			"button",
			{ type: "button", id: "watch-live", onclick: () => void run("live") },
			"Watch live",
		),
	);
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		void run("recording");
	});
	const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
	root.replaceChildren(
		h("h1", {}, "Recordings"),
		form,
		status,
		stage,
		h("h2", {}, "Sessions with a recording"),
		list,
	);
	if (query.get("session")) void run(query.get("live") ? "live" : "recording");
	try {
		list.replaceChildren(await recordingList());
	} catch (error) {
		list.replaceChildren(errorBox(describeError(error)));
	}
	return () => stop?.();
}

async function play(sessionId: string, stage: HTMLElement, status: HTMLElement) {
	const cast = await api.GET("/v1/sessions/{sessionId}/recording", {
		params: { path: { sessionId } },
		headers: { Accept: `${asciicastContentType}, text/plain` },
		parseAs: "text",
	});
	const recording = parseAsciicast(cast ?? "");
	const events = compressIdle(
		recording.events,
		recording.header.idleTimeLimit ?? defaultIdleLimitSeconds,
	);
	const total = durationSeconds(events);
	const screen = h("div", { class: "terminal" });
	const toggle = h("button", { type: "button", id: "play-pause" }, "Pause");
	const speed = h(
		"select",
		{ id: "speed" },
		...speeds.map((value) => h("option", { value, selected: value === 1 }, `${value}×`)),
	);
	const progress = h("progress", { max: Math.max(total, 0.001), value: 0 });
	stage.replaceChildren(h("div", { class: "controls" }, toggle, speed, progress), screen);
	const startSize = { cols: recording.header.width, rows: recording.header.height };
	const { terminal, pinSize, dispose } = openTerminal(screen, { readOnly: true, ...startSize });
	let position: PlaybackPosition = { nextIndex: 0, atSeconds: 0 };
	let playing = true;
	let timer: ReturnType<typeof setTimeout> | undefined;
	let lastTickMs = performance.now();
	const describe = () =>
		`${playing ? "playing" : position.nextIndex >= events.length ? "ended" : "paused"} · ${position.atSeconds.toFixed(1)} / ${total.toFixed(1)} s · ${plural(events.length, "event")}`;
	const tick = () => {
		const nowMs = performance.now();
		const step = advancePlayback(events, position, nowMs - lastTickMs, Number(speed.value));
		lastTickMs = nowMs;
		position = step.position;
		for (const event of step.due) {
			if ("text" in event) terminal.write(event.text);
			else pinSize(event.size);
		}
		progress.value = Math.min(position.atSeconds, total);
		const delayMs = delayUntilNextMs(events, position, Number(speed.value));
		if (delayMs === undefined) {
			playing = false;
			toggle.textContent = "Replay";
		} else timer = setTimeout(tick, Math.min(delayMs, 250));
		status.textContent = describe();
	};
	toggle.addEventListener("click", () => {
		clearTimeout(timer);
		if (!playing && position.nextIndex >= events.length) {
			terminal.reset();
			pinSize(startSize);
			position = { nextIndex: 0, atSeconds: 0 };
		}
		playing = !playing;
		toggle.textContent = playing ? "Pause" : "Play";
		lastTickMs = performance.now();
		if (playing) tick();
		else status.textContent = describe();
	});
	tick();
	return () => {
		clearTimeout(timer);
		dispose();
	};
}
