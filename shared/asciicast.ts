/**
 * Console recordings in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
 * a JSON header line with the terminal's size when recording began, then one
 * JSON event line `[seconds, "o", text]` per piece of VM output and
 * `[seconds, "r", "COLSxROWS"]` per later resize. Pure functions, no runtime imports.
 */

import type { TerminalSize } from "./console-protocol";

/** MIME type of an asciicast file. */
export const asciicastContentType = "application/x-asciicast";

/** A recording's size until a client tells one (a serial console has no size of its own). */
export const defaultTerminalSize: TerminalSize = { cols: 80, rows: 24 };

/**
 * Longest text one event carries. A frame's text is split at this many
 * UTF-16 units so one stored line stays far below SQLite's row limit
 * (2 MB in Durable Objects) even when every character needs a JSON escape.
 */
const maxEventChars = 65_536;

/** The header line (no trailing newline). */
export function castHeader(fields: {
	startMs: number;
	vmId: string;
	hostId: string;
	size?: TerminalSize;
}): string {
	const { cols, rows } = fields.size ?? defaultTerminalSize;
	return JSON.stringify({
		version: 2,
		width: cols,
		height: rows,
		timestamp: Math.floor(fields.startMs / 1000),
		title: `${fields.vmId} on ${fields.hostId}`,
		env: { TERM: "xterm-256color" },
	});
}

/** One output event line (no trailing newline); `elapsedMs` since the header's start. */
export function castOutputEvent(elapsedMs: number, text: string): string {
	return JSON.stringify([Math.max(0, elapsedMs) / 1000, "o", text]);
}

/** One resize event line (no trailing newline): `[seconds, "r", "COLSxROWS"]`. */
export function castResizeEvent(elapsedMs: number, size: TerminalSize): string {
	return JSON.stringify([Math.max(0, elapsedMs) / 1000, "r", `${size.cols}x${size.rows}`]);
}

/**
 * Splits `text` into pieces of at most `maxChars` UTF-16 units without
 * cutting a surrogate pair; the pieces concatenate to `text`.
 */
export function splitText(text: string, maxChars = maxEventChars): string[] {
	if (text.length <= maxChars) return [text];
	const pieces: string[] = [];
	let start = 0;
	while (start < text.length) {
		let end = Math.min(start + maxChars, text.length);
		const last = text.charCodeAt(end - 1);
		// A high surrogate at the cut would leave both halves invalid.
		if (end < text.length && end - start > 1 && last >= 0xd800 && last <= 0xdbff) end -= 1;
		pieces.push(text.slice(start, end));
		start = end;
	}
	return pieces;
}

/** Where a session's closed recording is kept in the recordings bucket. */
export function recordingKey(sessionId: string): string {
	return `recordings/${sessionId}.cast`;
}

/**
 * UTF-8 size of a well-formed string (no lone surrogates, which
 * `JSON.stringify` output never has), without encoding it.
 */
export function utf8ByteLength(text: string): number {
	let bytes = text.length;
	for (let index = 0; index < text.length; index++) {
		const code = text.charCodeAt(index);
		if (code < 0x80) continue;
		if (code < 0x800) bytes += 1;
		else if (code >= 0xd800 && code <= 0xdbff) {
			// A surrogate pair: two UTF-16 units, four bytes.
			bytes += 2;
			index++;
		} else bytes += 2;
	}
	return bytes;
}
