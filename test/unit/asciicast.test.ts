// Proves the pure asciicast v2 helpers: header (at the size told, else
// 80×24), output and resize event lines parse as the format says, and parse
// back through the player's reader; long text splits into pieces that concatenate back without
// cutting a surrogate pair, and the UTF-8 size matches TextEncoder for every
// JSON line. Does not cover recording in the service processor.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	castHeader,
	castOutputEvent,
	castResizeEvent,
	recordingKey,
	splitText,
	utf8ByteLength,
} from "../../shared/asciicast";
import { parseAsciicast } from "../../shared/asciicast-playback";
import { maxTerminalCells } from "../../shared/console-protocol";

describe("asciicast v2 lines", () => {
	it("writes the header with version 2, 80x24, start in unix seconds, title and TERM", () => {
		const header = JSON.parse(
			castHeader({ startMs: 1_764_000_000_999, vmId: "vm-1", hostId: "h-1" }),
		);
		expect(header).toEqual({
			version: 2,
			width: 80,
			height: 24,
			timestamp: 1_764_000_000,
			title: "vm-1 on h-1",
			env: { TERM: "xterm-256color" },
		});
	});

	it("writes the header at the terminal size it is given", () => {
		const header = JSON.parse(
			castHeader({ startMs: 0, vmId: "vm-1", hostId: "h-1", size: { cols: 132, rows: 43 } }),
		);
		expect(header).toMatchObject({ width: 132, height: 43 });
	});

	it('writes resize events as [seconds, "r", "COLSxROWS"] that the player reads back', () => {
		const cell = fc.integer({ min: 1, max: maxTerminalCells });
		fc.assert(
			fc.property(fc.nat(10_000_000), cell, cell, (elapsedMs, cols, rows) => {
				const line = castResizeEvent(elapsedMs, { cols, rows });
				expect(JSON.parse(line)).toEqual([elapsedMs / 1000, "r", `${cols}x${rows}`]);
				const cast = `${castHeader({ startMs: 0, vmId: "v", hostId: "h" })}\n${line}\n`;
				expect(parseAsciicast(cast).events).toEqual([
					{ atSeconds: elapsedMs / 1000, size: { cols, rows } },
				]);
			}),
		);
	});

	it('writes output events as [seconds, "o", text] that parse back to the text', () => {
		fc.assert(
			fc.property(fc.nat(10_000_000), fc.string({ unit: "binary" }), (elapsedMs, text) => {
				const event = JSON.parse(castOutputEvent(elapsedMs, text));
				expect(event).toEqual([elapsedMs / 1000, "o", text]);
			}),
		);
	});

	it("keys a recording by its session id under recordings/", () => {
		expect(recordingKey("h-1~abc")).toBe("recordings/h-1~abc.cast");
	});
});

describe("splitText", () => {
	it("splits into pieces within the limit that concatenate to the text, never cutting a pair", () => {
		fc.assert(
			fc.property(
				fc.string({ unit: "binary", minLength: 1, maxLength: 200 }),
				fc.integer({ min: 2, max: 17 }),
				(text, maxChars) => {
					const pieces = splitText(text, maxChars);
					expect(pieces.join("")).toBe(text);
					for (const piece of pieces) {
						expect(piece.length).toBeLessThanOrEqual(maxChars);
						expect(piece.length).toBeGreaterThan(0);
					}
					for (const piece of pieces.slice(0, -1)) {
						const last = piece.charCodeAt(piece.length - 1);
						expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
					}
				},
			),
		);
	});

	it("keeps a text within the limit whole", () => {
		expect(splitText("abc", 3)).toEqual(["abc"]);
	});
});

describe("utf8ByteLength", () => {
	it("equals TextEncoder's length for every JSON-encoded line", () => {
		fc.assert(
			fc.property(fc.string({ unit: "binary" }), (text) => {
				const line = castOutputEvent(1, text);
				expect(utf8ByteLength(line)).toBe(new TextEncoder().encode(line).byteLength);
			}),
		);
	});
});
