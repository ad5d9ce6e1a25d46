// Proves the console's incremental Server-Sent Events parser: fields, multi-line
// data, ids kept across events, comments ignored, CRLF/CR/LF line ends, and the
// same events whatever the chunking (a property). Does not prove the fetch
// reading in the browser (test/browser follows a migration's stream).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSseParser } from "../../shared/sse";

const stream =
	': keep-alive\n\nid: 1\nevent: migration\ndata: {"state":"validating"}\n\n' +
	'id: 2\r\nevent: migration\r\ndata: {"state":\r\ndata: "completed"}\r\n\r\n' +
	"data: no id or name\r\r";

const expected = [
	{ event: "migration", data: '{"state":"validating"}', id: "1" },
	{ event: "migration", data: '{"state":\n"completed"}', id: "2" },
	{ event: "message", data: "no id or name", id: "2" },
];

describe("createSseParser", () => {
	it("parses events with names, ids, multi-line data and any line ending", () => {
		expect(createSseParser().push(stream)).toEqual(expected);
	});

	it("dispatches nothing until the blank line that ends an event", () => {
		const parser = createSseParser();
		expect(parser.push("data: half")).toEqual([]);
		expect(parser.push("\n")).toEqual([]);
		expect(parser.push("\n")).toEqual([{ event: "message", data: "half", id: undefined }]);
	});

	it("ignores a block of comments only", () => {
		expect(createSseParser().push(": ping\n\n")).toEqual([]);
	});

	it("yields the same events however the stream is chunked", () => {
		fc.assert(
			fc.property(
				fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 12 }),
				(cuts) => {
					const bounds = [0, ...[...cuts].sort((a, b) => a - b), stream.length];
					const parser = createSseParser();
					const events = bounds
						.slice(1)
						.flatMap((end, index) => parser.push(stream.slice(bounds[index], end)));
					expect(events).toEqual(expected);
				},
			),
		);
	});
});
