// Proves owned ids (session ids naming their host, migration ids naming
// their VM) name their owner unambiguously: for every valid identifier
// (dots, dashes and underscores included) the owner parses back, and strings
// that are not owned ids parse to nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newOwnedId, ownedIdPattern, ownerOfId } from "../../shared/owned-id";

const hostId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);

describe("session ids", () => {
	it("round-trip the host id for every valid host id", () => {
		fc.assert(
			fc.property(hostId, fc.uuid({ version: 4 }), (host, uuid) => {
				const sessionId = newOwnedId(host, uuid);
				expect(sessionId).toMatch(ownedIdPattern);
				expect(ownerOfId(sessionId)).toBe(host);
			}),
		);
	});

	it("are unique per call", () => {
		expect(newOwnedId("h")).not.toBe(newOwnedId("h"));
	});

	it("reject strings that are not session ids", () => {
		for (const value of [
			"",
			"host",
			"host~not-a-uuid",
			"~0b3f8a52-6f5e-4d0c-9a43-2f4f1f7e9c11",
			"bad host~0b3f8a52-6f5e-4d0c-9a43-2f4f1f7e9c11",
			"host~0B3F8A52-6F5E-4D0C-9A43-2F4F1F7E9C11x",
		]) {
			expect(ownerOfId(value)).toBeUndefined();
		}
	});
});
