/**
 * Reading and playing asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
 * parsing and playback scheduling, with no DOM or Workers imports. The web
 * console's player drives an xterm with it; unit tests drive it with plain
 * numbers. (Writing recordings is the service processor's business.)
 */

import { type TerminalSize, terminalSizeOf } from "./console-protocol";

/** The header line's fields the player uses. */
export interface AsciicastHeader {
	version: 2;
	width: number;
	height: number;
	timestamp?: number;
	idleTimeLimit?: number;
	title?: string;
}

/** One output event: `[seconds, "o", text]`. */
export interface OutputEvent {
	atSeconds: number;
	text: string;
}

/** One resize of the terminal: `[seconds, "r", "COLSxROWS"]`. */
export interface ResizeEvent {
	atSeconds: number;
	size: TerminalSize;
}

/** What a player acts on, in time order. */
export type PlaybackEvent = OutputEvent | ResizeEvent;

/** A parsed recording: the header and its output and resize events in time order. */
export interface Recording {
	header: AsciicastHeader;
	events: PlaybackEvent[];
}

const defaultSize = { width: 80, height: 24 };

/**
 * Parses asciicast v2 text. Input (`"i"`), marker and other event kinds are
 * skipped (the player shows output and follows resizes), and so is a resize
 * to a size no terminal takes; events are kept in time order. Throws an
 * Error naming the line when the text is not asciicast v2.
 */
export function parseAsciicast(text: string): Recording {
	const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
	const [headerLine, ...eventLines] = lines;
	if (headerLine === undefined) throw new Error("empty recording");
	const header = parseHeader(headerLine);
	const events: PlaybackEvent[] = [];
	eventLines.forEach((line, index) => {
		const event = parseEvent(line, index + 2);
		if (event) events.push(event);
	});
	// Recorders write in order; a stable sort keeps equal timestamps in file order.
	events.sort((a, b) => a.atSeconds - b.atSeconds);
	return { header, events };
}

function parseHeader(line: string): AsciicastHeader {
	const header: unknown = JSON.parse(line);
	if (
		typeof header !== "object" ||
		header === null ||
		(header as { version?: unknown }).version !== 2
	)
		throw new Error("line 1: not an asciicast v2 header");
	const fields = header as Record<string, unknown>;
	const number = (value: unknown) =>
		typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
	// A size no terminal takes (a million columns) would stall the player: the default instead.
	const size = terminalSizeOf({ cols: fields.width, rows: fields.height });
	return {
		version: 2,
		width: size?.cols ?? defaultSize.width,
		height: size?.rows ?? defaultSize.height,
		timestamp: number(fields.timestamp),
		idleTimeLimit: number(fields.idle_time_limit),
		title: typeof fields.title === "string" ? fields.title : undefined,
	};
}

function parseEvent(line: string, lineNumber: number): PlaybackEvent | undefined {
	let event: unknown;
	try {
		event = JSON.parse(line);
	} catch {
		throw new Error(`line ${lineNumber}: not JSON`);
	}
	if (!Array.isArray(event) || event.length < 3)
		throw new Error(`line ${lineNumber}: not an event`);
	const [atSeconds, kind, data] = event;
	if (typeof atSeconds !== "number" || !Number.isFinite(atSeconds) || atSeconds < 0)
		throw new Error(`line ${lineNumber}: bad time`);
	if (typeof data !== "string") return undefined;
	if (kind === "o") return { atSeconds, text: data };
	if (kind !== "r") return undefined;
	const [, cols, rows] = data.match(/^(\d{1,4})x(\d{1,4})$/) ?? [];
	const size = terminalSizeOf({ cols: Number(cols), rows: Number(rows) });
	return size && { atSeconds, size };
}

/** The text of the output events, in order. */
export function outputText(events: PlaybackEvent[]): string {
	return events.map((event) => ("text" in event ? event.text : "")).join("");
}

/**
 * The events' times with every pause longer than `limitSeconds` shortened to
 * it (asciinema's `idle_time_limit`), so a recording with a long idle stretch
 * plays without dead air. Without a limit the times are unchanged.
 */
export function compressIdle(events: PlaybackEvent[], limitSeconds?: number): PlaybackEvent[] {
	if (limitSeconds === undefined) return events;
	let previousOriginal = 0;
	let previousCompressed = 0;
	return events.map((event) => {
		const gap = Math.min(event.atSeconds - previousOriginal, limitSeconds);
		previousOriginal = event.atSeconds;
		previousCompressed += gap;
		return { ...event, atSeconds: previousCompressed };
	});
}

/** Where a player is: the next event to write and the recording time reached. */
export interface PlaybackPosition {
	nextIndex: number;
	atSeconds: number;
}

/**
 * Advances playback by `elapsedMs` of wall time at `speed`: returns every
 * event now due, in order (output written before a resize was laid out at
 * the size before it), and the new position.
 */
export function advancePlayback(
	events: PlaybackEvent[],
	position: PlaybackPosition,
	elapsedMs: number,
	speed: number,
): { due: PlaybackEvent[]; position: PlaybackPosition } {
	const atSeconds = position.atSeconds + (Math.max(0, elapsedMs) / 1000) * speed;
	let nextIndex = position.nextIndex;
	while (nextIndex < events.length && (events[nextIndex]?.atSeconds ?? 0) <= atSeconds) {
		nextIndex += 1;
	}
	return { due: events.slice(position.nextIndex, nextIndex), position: { nextIndex, atSeconds } };
}

/**
 * Wall-clock milliseconds until the next event is due at `speed`, or
 * undefined when the recording has ended.
 */
export function delayUntilNextMs(
	events: PlaybackEvent[],
	position: PlaybackPosition,
	speed: number,
): number | undefined {
	const next = events[position.nextIndex];
	if (!next) return undefined;
	return (Math.max(0, next.atSeconds - position.atSeconds) * 1000) / speed;
}

/** The recording's length in seconds (the last event's time). */
export function durationSeconds(events: PlaybackEvent[]): number {
	return events.at(-1)?.atSeconds ?? 0;
}
