// Proves the console player's pure asciicast v2 logic: parsing (header
// fields, output and resize events kept in order, other kinds and sizes no
// terminal takes skipped, bad lines named), idle compression, and playback
// scheduling (every event due exactly once and in order whatever the tick
// sizes and speed; delays until the next event). Does not prove the browser
// wiring (test/browser does, once recordings exist).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	advancePlayback,
	compressIdle,
	delayUntilNextMs,
	durationSeconds,
	type OutputEvent,
	outputText,
	parseAsciicast,
} from "../../shared/asciicast-playback";

const recording = [
	JSON.stringify({
		version: 2,
		width: 100,
		height: 30,
		timestamp: 1_764_000_000,
		idle_time_limit: 1.5,
	}),
	JSON.stringify([0.25, "o", "root@web-1:~# "]),
	JSON.stringify([1.0, "i", "hostname\r"]),
	JSON.stringify([1.1, "o", "hostname\r\nweb-1\r\n"]),
	JSON.stringify([1.1, "m", "marker"]),
	JSON.stringify([4.0, "r", "120x40"]),
	JSON.stringify([9.6, "o", "root@web-1:~# "]),
	"",
].join("\n");

describe("parseAsciicast", () => {
	it("reads the header's size, timestamp and idle limit", () => {
		expect(parseAsciicast(recording).header).toEqual({
			version: 2,
			width: 100,
			height: 30,
			timestamp: 1_764_000_000,
			idleTimeLimit: 1.5,
			title: undefined,
		});
	});

	it("keeps output and resize events in order and skips input and markers", () => {
		expect(parseAsciicast(recording).events).toEqual([
			{ atSeconds: 0.25, text: "root@web-1:~# " },
			{ atSeconds: 1.1, text: "hostname\r\nweb-1\r\n" },
			{ atSeconds: 4.0, size: { cols: 120, rows: 40 } },
			{ atSeconds: 9.6, text: "root@web-1:~# " },
		]);
	});

	it("skips a resize to a size no terminal takes", () => {
		const resizes = [
			"0x24",
			"80x0",
			"1001x24",
			"80x99999",
			"-1x24",
			"80.5x24",
			"80×24",
			"wide",
			"",
		];
		const cast = [
			'{"version": 2}',
			...resizes.map((size) => JSON.stringify([1, "r", size])),
			JSON.stringify([1, "r", 42]),
			JSON.stringify([2, "r", "1000x1"]),
		].join("\n");
		expect(parseAsciicast(cast).events).toEqual([{ atSeconds: 2, size: { cols: 1000, rows: 1 } }]);
	});

	it("joins the output events' text, leaving resizes out", () => {
		expect(outputText(parseAsciicast(recording).events)).toBe(
			"root@web-1:~# hostname\r\nweb-1\r\nroot@web-1:~# ",
		);
	});

	it("defaults a header without a size to 80×24", () => {
		expect(parseAsciicast('{"version": 2}\n').header).toMatchObject({ width: 80, height: 24 });
	});

	it("defaults a header whose size no terminal takes to 80×24", () => {
		const header = '{"version": 2, "width": 1000000, "height": 24.5}\n';
		expect(parseAsciicast(header).header).toMatchObject({ width: 80, height: 24 });
	});

	it("refuses a header that is not asciicast v2", () => {
		expect(() => parseAsciicast('{"version": 1}\n')).toThrow("line 1: not an asciicast v2 header");
	});

	it("names the line of an event that is not JSON", () => {
		expect(() => parseAsciicast('{"version": 2}\n[0.1, "o", "a"]\n[0.2, "o"\n')).toThrow(
			"line 3: not JSON",
		);
	});

	it("refuses an event with a negative time", () => {
		expect(() => parseAsciicast('{"version": 2}\n[-1, "o", "a"]\n')).toThrow("line 2: bad time");
	});

	it("refuses empty text", () => {
		expect(() => parseAsciicast("\n\n")).toThrow("empty recording");
	});
});

describe("compressIdle", () => {
	it("shortens pauses longer than the limit and keeps shorter ones", () => {
		const { events } = parseAsciicast(recording);
		expect(compressIdle(events, 1.5).map((event) => event.atSeconds)).toEqual([
			0.25, 1.1, 2.6, 4.1,
		]);
	});

	it("keeps what each event is while moving it in time", () => {
		const { events } = parseAsciicast(recording);
		expect(compressIdle(events, 1.5)[2]).toEqual({ atSeconds: 2.6, size: { cols: 120, rows: 40 } });
	});

	it("leaves times unchanged without a limit", () => {
		const { events } = parseAsciicast(recording);
		expect(compressIdle(events)).toBe(events);
	});
});

const eventsArbitrary = fc
	.array(fc.tuple(fc.double({ min: 0, max: 60, noNaN: true }), fc.string({ maxLength: 5 })), {
		maxLength: 30,
	})
	.map((pairs) =>
		pairs
			.map(([atSeconds, text]): OutputEvent => ({ atSeconds, text }))
			.sort((a, b) => a.atSeconds - b.atSeconds),
	);

describe("advancePlayback", () => {
	it("makes every event due exactly once, in order, whatever the tick sizes and speed", () => {
		fc.assert(
			fc.property(
				eventsArbitrary,
				fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 40 }),
				fc.constantFrom(0.5, 1, 2, 8),
				(events, ticksMs, speed) => {
					let position = { nextIndex: 0, atSeconds: 0 };
					const due: OutputEvent[] = [];
					for (const elapsedMs of [...ticksMs, 1_000_000]) {
						const step = advancePlayback(events, position, elapsedMs, speed);
						due.push(...(step.due as OutputEvent[]));
						position = step.position;
					}
					expect(due).toEqual(events);
					expect(position.nextIndex).toBe(events.length);
				},
			),
		);
	});

	it("makes nothing due before an event's time and the event once its time is reached", () => {
		const events = [{ atSeconds: 2, text: "late" }];
		const early = advancePlayback(events, { nextIndex: 0, atSeconds: 0 }, 1999, 1);
		expect(early.due).toEqual([]);
		expect(advancePlayback(events, early.position, 1, 1).due).toEqual(events);
	});

	it("keeps a resize between the output before it and the output after it", () => {
		const { events } = parseAsciicast(recording);
		const step = advancePlayback(events, { nextIndex: 0, atSeconds: 0 }, 60_000, 1);
		expect(step.due.map((event) => ("text" in event ? "output" : "resize"))).toEqual([
			"output",
			"output",
			"resize",
			"output",
		]);
	});

	it("runs the recording clock at the chosen speed", () => {
		const step = advancePlayback([], { nextIndex: 0, atSeconds: 1 }, 500, 4);
		expect(step.position.atSeconds).toBe(3);
	});
});

describe("delayUntilNextMs", () => {
	it("is the wall time until the next event at the chosen speed", () => {
		const events = [{ atSeconds: 3, text: "x" }];
		expect(delayUntilNextMs(events, { nextIndex: 0, atSeconds: 1 }, 2)).toBe(1000);
	});

	it("is undefined once the recording has ended, whose length is its last event's time", () => {
		const events = [{ atSeconds: 3, text: "x" }];
		expect(delayUntilNextMs(events, { nextIndex: 1, atSeconds: 3 }, 1)).toBeUndefined();
		expect(durationSeconds(events)).toBe(3);
	});
});
