// Proves the console subprotocol's control messages as the service processor
// reads them off the network: a resize with whole cols and rows from 1 to
// 1000 is read; anything else (out of range, not a whole number, not JSON,
// another type, too long) is no control message at all. Also the message
// clients build reads back. Does not prove what the relay does with them
// (test/integration/terminal-size.test.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	maxTerminalCells,
	parseConsoleControl,
	resizeControl,
	terminalSizeOf,
} from "../../shared/console-protocol";

const cell = fc.integer({ min: 1, max: maxTerminalCells });

describe("parseConsoleControl", () => {
	it("reads a resize with whole cols and rows from 1 to 1000, as clients write it", () => {
		fc.assert(
			fc.property(cell, cell, (cols, rows) => {
				expect(parseConsoleControl(resizeControl({ cols, rows }))).toEqual({
					type: "resize",
					cols,
					rows,
				});
			}),
		);
	});

	it("ignores fields it does not know", () => {
		const text = '{"type":"resize","cols":100,"rows":30,"pixels":{"width":900}}';
		expect(parseConsoleControl(text)).toEqual({ type: "resize", cols: 100, rows: 30 });
	});

	it.each([
		["a size over 1000", '{"type":"resize","cols":1001,"rows":24}'],
		["a huge size", '{"type":"resize","cols":80,"rows":1e308}'],
		["a negative size", '{"type":"resize","cols":-80,"rows":24}'],
		["a zero size", '{"type":"resize","cols":80,"rows":0}'],
		["a fraction", '{"type":"resize","cols":80.5,"rows":24}'],
		["a number as a string", '{"type":"resize","cols":"80","rows":"24"}'],
		["null sides", '{"type":"resize","cols":null,"rows":null}'],
		["a missing side", '{"type":"resize","cols":80}'],
		["another type", '{"type":"Resize","cols":80,"rows":24}'],
		["no type", '{"cols":80,"rows":24}'],
		["an array", '[{"type":"resize","cols":80,"rows":24}]'],
		["JSON that is not an object", '"resize"'],
		["null", "null"],
		["text that is not JSON", "ls -la\r"],
		["cut-off JSON", '{"type":"resize","cols":80,'],
		[
			"a resize padded past 256 characters",
			`{"type":"resize","cols":80,"rows":24}${" ".repeat(256)}`,
		],
	])("ignores %s", (_what, text) => {
		expect(parseConsoleControl(text)).toBeUndefined();
	});
});

describe("terminalSizeOf", () => {
	it("is undefined for any value that is not whole cols and rows from 1 to 1000", () => {
		fc.assert(
			fc.property(fc.anything(), fc.anything(), (cols, rows) => {
				const valid = [cols, rows].every(
					(side) => Number.isInteger(side) && (side as number) >= 1 && (side as number) <= 1000,
				);
				expect(terminalSizeOf({ cols, rows })).toEqual(valid ? { cols, rows } : undefined);
			}),
		);
	});
});
