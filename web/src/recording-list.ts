/**
 * The sessions a recording can be played from, so nobody has to paste a
 * `host~uuid`: gathered from every host's session list
 * (`GET /v1/hosts/{hostId}/sessions`, whose records carry a recording
 * summary), newest first.
 */
import { api, segment } from "./api";
import { h, idText, table, unbroken } from "./dom";
import { formatTime } from "./format";
import { recordingCell } from "./recording-summary";
import type { SessionRecord } from "./types";

/** Rows shown; older sessions stay reachable by id. */
const listedSessions = 50;

/** Every session with a recording, on any host, newest first. */
async function recordedSessions(): Promise<SessionRecord[]> {
	const { hosts } = await api.GET("/v1/hosts");
	const perHost = await Promise.all(
		hosts.map(async (host) => {
			const { sessions } = await api.GET("/v1/hosts/{hostId}/sessions", {
				params: { path: { hostId: host.hostId } },
			});
			return sessions;
		}),
	);
	return perHost
		.flat()
		.filter((session) => session.recording !== null)
		.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** The list: each session with Play and, while it is open, Watch live. */
export async function recordingList(): Promise<HTMLElement> {
	const sessions = await recordedSessions();
	if (sessions.length === 0) {
		return h(
			"p",
			{ class: "muted" },
			"No recordings yet: they start when a console session opens.",
		);
	}
	const link = (session: SessionRecord, live: boolean) =>
		h(
			"a",
			{
				class: "button",
				href: `#/recordings?session=${segment(session.sessionId)}${live ? "&live=1" : ""}`,
			},
			live ? "Watch live" : "Play",
		);
	return h(
		"div",
		{},
		table(
			[
				{ title: "Session", cell: (session) => idText(session.sessionId) },
				{ title: "VM", cell: (session) => idText(session.vmId) },
				{
					title: "State",
					cell: (session) => h("span", { class: `state ${session.state}` }, session.state),
				},
				{ title: "Opened", cell: (session) => unbroken(formatTime(session.createdAt)) },
				{ title: "Recording", cell: recordingCell },
				{
					title: "",
					cell: (session) =>
						h(
							"span",
							{ class: "actions" },
							link(session, false),
							session.state !== "closed" && link(session, true),
						),
				},
			],
			sessions.slice(0, listedSessions),
			{ class: "recorded-sessions" },
		),
		sessions.length > listedSessions &&
			h(
				"p",
				{ class: "muted" },
				`The newest ${listedSessions} of ${sessions.length}; open an older one by its id above.`,
			),
	);
}
