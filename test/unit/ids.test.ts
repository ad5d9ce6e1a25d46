// Proves the identifier grammar of API.md's conventions.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isIdentifier } from "../../shared/ids";

const first = fc.constantFrom(..."abcXYZ019");
const rest = fc.constantFrom(..."abcXYZ019._-");

describe("identifiers", () => {
	it("accept 1 to 63 characters starting with a letter or digit", () => {
		fc.assert(
			fc.property(first, fc.array(rest, { maxLength: 62 }), (head, tail) => {
				expect(isIdentifier(head + tail.join(""))).toBe(true);
			}),
		);
	});

	it("refuse empty, too long, leading punctuation and other characters", () => {
		expect(isIdentifier("")).toBe(false);
		expect(isIdentifier("a".repeat(64))).toBe(false);
		expect(isIdentifier("-a")).toBe(false);
		expect(isIdentifier(".a")).toBe(false);
		fc.assert(
			fc.property(fc.constantFrom(..."/ :?#%é\n"), (bad) => {
				expect(isIdentifier(`a${bad}b`)).toBe(false);
			}),
		);
	});
});
