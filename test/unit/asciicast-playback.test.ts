// Proves the console player's pure asciicast v2 logic: parsing (header
// fields, output events kept in order, other kinds skipped, bad lines named),
// idle compression, and playback scheduling (every event written exactly once
// and in order whatever the tick sizes and speed; delays until the next event).
// Does not prove the browser wiring (test/browser does, once recordings exist).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	advancePlayback,
	compressIdle,
	delayUntilNextMs,
	durationSeconds,
	type OutputEvent,
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

	it("keeps output events in order and skips input and markers", () => {
		expect(parseAsciicast(recording).events).toEqual([
			{ atSeconds: 0.25, text: "root@web-1:~# " },
			{ atSeconds: 1.1, text: "hostname\r\nweb-1\r\n" },
			{ atSeconds: 9.6, text: "root@web-1:~# " },
		]);
	});

	it("defaults a header without a size to 80×24", () => {
		expect(parseAsciicast('{"version": 2}\n').header).toMatchObject({ width: 80, height: 24 });
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
		expect(compressIdle(events, 1.5).map((event) => event.atSeconds)).toEqual([0.25, 1.1, 2.6]);
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
	it("writes every event exactly once, in order, whatever the tick sizes and speed", () => {
		fc.assert(
			fc.property(
				eventsArbitrary,
				fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 40 }),
				fc.constantFrom(0.5, 1, 2, 8),
				(events, ticksMs, speed) => {
					let position = { nextIndex: 0, atSeconds: 0 };
					let written = "";
					for (const elapsedMs of [...ticksMs, 1_000_000]) {
						const step = advancePlayback(events, position, elapsedMs, speed);
						written += step.text;
						position = step.position;
					}
					expect(written).toBe(events.map((event) => event.text).join(""));
					expect(position.nextIndex).toBe(events.length);
				},
			),
		);
	});

	it("writes nothing before an event's time and the event once its time is reached", () => {
		const events = [{ atSeconds: 2, text: "late" }];
		const early = advancePlayback(events, { nextIndex: 0, atSeconds: 0 }, 1999, 1);
		expect(early.text).toBe("");
		expect(advancePlayback(events, early.position, 1, 1).text).toBe("late");
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
