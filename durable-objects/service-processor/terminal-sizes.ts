import { defaultTerminalSize } from "../../shared/asciicast";
import { parseConsoleControl, type TerminalSize } from "../../shared/console-protocol";
import type { Recorder } from "./recordings";
import type { RelayAttachment } from "./relay";
import { sideTag } from "./session-record";
import type { Viewers } from "./viewers";

/**
 * Each session's terminal size, as its user side last told it in a resize
 * control message. Kept in the user socket's attachment: it lasts exactly
 * as long as the session (which ends with that socket), survives
 * hibernation, and costs no storage write per resize. The recording begins
 * at that size and records each change; viewers are told.
 */
export class TerminalSizes {
	constructor(
		private readonly ctx: DurableObjectState,
		private readonly recorder: Recorder,
		private readonly viewers: Viewers,
	) {}

	/**
	 * A control message from a user side: a valid resize to a new size takes
	 * effect; anything else is ignored. Never relayed, whatever it holds.
	 */
	control(socket: WebSocket, attachment: RelayAttachment, text: string): void {
		const control = parseConsoleControl(text);
		if (!control) return;
		const size = { cols: control.cols, rows: control.rows };
		const told = attachment.terminalSize;
		if (told && sameSize(told, size)) return;
		attachment.terminalSize = size;
		socket.serializeAttachment(attachment);
		// The recording is at the size told last, or (never told) its header's default.
		if (!sameSize(told ?? defaultTerminalSize, size)) {
			this.recorder.recordResize(attachment.sessionId, size);
		}
		this.viewers.notify(attachment.sessionId, { type: "resize", ...size });
	}

	/** The size the session's user side told last; undefined when it told none. */
	of(sessionId: string): TerminalSize | undefined {
		const [user] = this.ctx.getWebSockets(sideTag("user", sessionId));
		return (user?.deserializeAttachment() as RelayAttachment | null)?.terminalSize;
	}
}

function sameSize(a: TerminalSize, b: TerminalSize): boolean {
	return a.cols === b.cols && a.rows === b.rows;
}
