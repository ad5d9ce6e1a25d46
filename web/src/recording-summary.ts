/**
 * A session's recording in one table cell: its size and events, and where it
 * is (still recording, stored in R2, cut at the cap). Shared by the host
 * page's sessions and the recordings list.
 */
import { h } from "./dom";
import { formatBytes, plural } from "./format";
import type { SessionRecord } from "./types";

/** The recording cell of a session row (a dash before the VM side attached). */
export function recordingCell(session: SessionRecord): HTMLElement {
	const { recording } = session;
	if (!recording) return h("span", { class: "recording muted" }, "—");
	const where = recording.stored
		? h("span", { class: "state stored" }, "stored")
		: session.state === "closed"
			? h(
					"span",
					{ class: "state pending", title: "the upload to R2 is retried" },
					"not stored yet",
				)
			: h("span", { class: "state recording" }, "recording");
	return h(
		"span",
		{ class: "recording" },
		`${formatBytes(recording.bytes)} · ${plural(recording.events, "event")}`,
		where,
		recording.truncated &&
			h("span", { class: "state truncated", title: "stopped at the 8 MiB cap" }, "truncated"),
	);
}
