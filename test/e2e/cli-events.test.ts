// Proves the CLI's Server-Sent Events reader (used by `migrate` and
// `migrations watch`) on byte streams cut at arbitrary places: events split
// across chunks, CRLF line ends, multi-line data, comments and id lines.
// Pure Node; the live stream is exercised by cli-migrate.test.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { percentOf, readServerSentEvents } from "../../cli/migration-events.mjs";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
	const encoder = new TextEncoder();
	return new ReadableStream({
		start(controller) {
			for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
			controller.close();
		},
	});
}

async function collect(chunks: string[]): Promise<string[]> {
	const events: string[] = [];
	for await (const data of readServerSentEvents(streamOf(chunks))) events.push(data);
	return events;
}

const wire =
	': keep-alive\n\nevent: migration\nid: 1\ndata: {"state":"validating"}\n\n' +
	'event: migration\r\nid: 2\r\ndata: {"state":\r\ndata: "migrating"}\r\n\r\n';

describe("CLI Server-Sent Events reader", () => {
	it("yields each event's data, joining multi-line data and ignoring comments", async () => {
		expect(await collect([wire])).toEqual(['{"state":"validating"}', '{"state":\n"migrating"}']);
	});

	it("yields the same events however the stream is cut into chunks", async () => {
		const expected = await collect([wire]);
		await fc.assert(
			fc.asyncProperty(
				fc.uniqueArray(fc.integer({ min: 1, max: wire.length - 1 })),
				async (cuts) => {
					const points = [0, ...cuts.sort((a, b) => a - b), wire.length];
					const chunks = points.slice(1).map((end, index) => wire.slice(points[index], end));
					expect(await collect(chunks)).toEqual(expected);
				},
			),
		);
	});

	it("reads a record's percent from its progress object, clamped to 0–100", () => {
		expect(percentOf({ progress: { percent: 42, phase: "pre-copy" } })).toBe(42);
		expect(percentOf({ progress: { percent: 140 } })).toBe(100);
		expect(percentOf({})).toBe(0);
	});
});
