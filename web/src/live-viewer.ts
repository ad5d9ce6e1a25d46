/**
 * "Watch live": a read-only viewer channel on an open session
 * (`POST /v1/sessions/{id}/viewers` → `{url, token, expiresAt}`), its screen
 * first drawn from the session's recording so far (see catch-up.ts): a
 * viewer channel itself sends no output on join, only what the VM prints
 * next. Speaking the console subprotocol, it is told the console's size (on
 * join and on every change) and lays the output out at it; until told, the
 * screen fits the page.
 */
import { asciicastContentType } from "../../shared/asciicast";
import { outputText, parseAsciicast } from "../../shared/asciicast-playback";
import { terminalSizeOf } from "../../shared/console-protocol";
import { ApiProblem, api, describeError } from "./api";
import { catchUp } from "./catch-up";
import { h } from "./dom";
import { dialConsole, openTerminal, pipeSocketToTerminal } from "./xterm";

/** The VM's output recorded so far; empty when there is none yet (the VM side never attached). */
async function recordedOutput(sessionId: string): Promise<string> {
	try {
		const cast = await api.GET("/v1/sessions/{sessionId}/recording", {
			params: { path: { sessionId } },
			headers: { Accept: `${asciicastContentType}, text/plain` },
			parseAs: "text",
		});
		return outputText(parseAsciicast(cast ?? "").events);
	} catch (error) {
		if (error instanceof ApiProblem && error.status === 404) return "";
		throw error;
	}
}

/** Opens a viewer on `sessionId` in `stage`; returns how to leave. */
export async function watchLive(sessionId: string, stage: HTMLElement, status: HTMLElement) {
	const viewer = await api.POST("/v1/sessions/{sessionId}/viewers", {
		params: { path: { sessionId } },
	});
	const screen = h("div", { class: "terminal" });
	stage.replaceChildren(screen);
	const { terminal, pinSize, dispose } = openTerminal(screen, { readOnly: true });
	let shownOutput = false;
	let closed = false;
	let note = "";
	const showStatus = () => {
		if (closed) return;
		const waiting = shownOutput ? "" : " · waiting for output…";
		status.replaceChildren(`watching live (read-only)${waiting}${note}`);
	};
	const screenUpdates = catchUp((text) => {
		if (text === "") return;
		terminal.write(text);
		if (!shownOutput) {
			shownOutput = true;
			showStatus();
		}
	});
	const socket = dialConsole(viewer.url);
	socket.addEventListener("open", async () => {
		showStatus();
		let recorded = "";
		try {
			recorded = await recordedOutput(sessionId);
		} catch (error) {
			note = ` · earlier output unavailable (${describeError(error)})`;
		}
		screenUpdates.recorded(recorded);
		showStatus();
	});
	pipeSocketToTerminal(
		socket,
		{ write: (data) => screenUpdates.frame(data) },
		(description) => {
			closed = true;
			status.replaceChildren(`viewer closed: ${description}`);
		},
		(notice) => {
			const size = notice.type === "resize" ? terminalSizeOf(notice) : undefined;
			if (size) pinSize(size);
		},
	);
	return () => {
		socket.close(1000, "viewer left");
		dispose();
	};
}
