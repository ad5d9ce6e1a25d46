// Proves the Worker hands every request under /console/ and /docs/ to the
// Worker of its static bundles as it came, and answers with that Worker's
// answer alone (no API headers, no problem). The bundles themselves are not
// here (a stand-in answers, see vitest.config.ts): test/browser loads them.
import { describe, expect, it } from "vitest";
import { call } from "../support/http";

describe("static bundles", () => {
	it("hands /console/* and /docs/* to the static bundles' Worker, any method", async () => {
		for (const [method, path] of [
			["GET", "/console/app.js"],
			["HEAD", "/console/app.css"],
			["GET", "/docs/scalar.js"],
			["POST", "/docs/start.js"],
		] as const) {
			const response = await call(path, { method });
			expect(response.status).toBe(200);
			if (method !== "HEAD")
				expect(await response.text()).toBe(`static bundles: ${method} ${path}`);
		}
	});

	it("adds none of the API's headers to what that Worker answers", async () => {
		const response = await call("/console/app.js");
		expect(response.headers.get("X-Request-Id")).toBeNull();
		expect(response.headers.get("Strict-Transport-Security")).toBeNull();
	});

	it("keeps /console, /docs and look-alike paths for the Worker's own routes", async () => {
		expect((await call("/console")).headers.get("Content-Type")).toContain("text/html");
		expect((await call("/docs")).headers.get("Content-Type")).toContain("text/html");
		const lookAlike = await call("/consoles/app.js");
		expect(lookAlike.status).toBe(404);
		expect(lookAlike.headers.get("Content-Type")).toContain("application/problem+json");
	});
});
