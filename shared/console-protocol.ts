/**
 * The console channel's optional WebSocket subprotocols, for user and viewer
 * channels. Under either, a frame's type says whose it is, in both
 * directions: binary frames are the console, text frames are JSON of
 * Edgevisor's own — so nothing Edgevisor says, or is told, ever becomes a
 * console byte.
 *
 * - `edgevisor.console.v1`: the client gets the console as binary frames
 *   only and notices (ConsoleNotice) as text frames. What it sends is relayed
 *   as it was before v2 existed: text frames too reach the VM as typed.
 * - `edgevisor.console.v2`: v1, and the client's own text frames are control
 *   messages (ConsoleControl) for Edgevisor, never relayed to the VM; its
 *   console input goes as binary frames. A client offers v2 before v1 and
 *   sends controls only when the server chose v2: a server that knows only
 *   v1 would type them into the VM's shell.
 *
 * A client that offers neither gets the plain stream, text and binary frames
 * as the VM sent them. Imports nothing: the CLI (Node) and the web console
 * share it with the Worker.
 */
export const consoleProtocol = "edgevisor.console.v1";

/** v1 with control messages from the client (see above). */
export const consoleControlProtocol = "edgevisor.console.v2";

/** The console subprotocols a client offers, the one it prefers first. */
export const consoleProtocols = [consoleControlProtocol, consoleProtocol];

/** A terminal's size in character cells. */
export interface TerminalSize {
	cols: number;
	rows: number;
}

/** Largest side of a terminal Edgevisor accepts, in cells; the smallest is 1. */
export const maxTerminalCells = 1000;

/**
 * A notice on the console channel (a text frame from Edgevisor). A user side
 * is told `vm_moved`; a viewer is told `resize`, the console's size as its
 * user's terminal last reported it, when it joins and on every change.
 */
export type ConsoleNotice =
	| {
			type: "vm_moved";
			/** The host whose agent carries the VM side now. */
			vmHostId: string;
	  }
	| ({ type: "resize" } & TerminalSize);

/**
 * A control message (a text frame from a `consoleControlProtocol` client):
 * its terminal's size, sent when the channel opens and on every change.
 */
export type ConsoleControl = { type: "resize" } & TerminalSize;

/** Longest text frame read as a control message; a longer one is ignored unread. */
const maxControlChars = 256;

/**
 * The size in `value` (`{cols, rows}`, whole numbers from 1 to
 * maxTerminalCells), or undefined: sizes come from the network, and one a
 * terminal cannot take must change nothing.
 */
export function terminalSizeOf(value: unknown): TerminalSize | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	const { cols, rows } = value as Record<string, unknown>;
	return isCellCount(cols) && isCellCount(rows) ? { cols, rows } : undefined;
}

function isCellCount(value: unknown): value is number {
	return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= maxTerminalCells;
}

/** The control message a text frame carries, or undefined for anything else (which is ignored). */
export function parseConsoleControl(text: string): ConsoleControl | undefined {
	if (text.length > maxControlChars) return undefined;
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		return undefined;
	}
	if ((value as { type?: unknown } | null)?.type !== "resize") return undefined;
	const size = terminalSizeOf(value);
	return size && { type: "resize", ...size };
}

/** The control message telling Edgevisor a terminal's size. */
export function resizeControl(size: TerminalSize): string {
	return JSON.stringify({
		type: "resize",
		cols: size.cols,
		rows: size.rows,
	} satisfies ConsoleControl);
}

/**
 * A channel's single-use token as a WebSocket subprotocol, for clients that
 * keep tokens out of URLs (and so out of access logs and trace stores), as
 * Kubernetes does with bearer tokens: offered beside the subprotocol the
 * client speaks. The server answers with that one, or with the token
 * protocol itself when nothing else was offered (the token is spent by then).
 */
export const tokenProtocolPrefix = "edgevisor.token.";

/** A channel URL split into the URL without its token and the subprotocol carrying it. */
export function tokenInProtocol(channelUrl: string): { url: string; tokenProtocol?: string } {
	const url = new URL(channelUrl);
	const token = url.searchParams.get("token");
	if (!token) return { url: channelUrl };
	url.searchParams.delete("token");
	return { url: url.toString(), tokenProtocol: `${tokenProtocolPrefix}${token}` };
}
