// Proves the Worker serves over real HTTP under `wrangler dev`: health, docs,
// the static bundles (from the Worker of its own they live in), and problem
// responses. Does not cover any resource flow.
import { describe, expect, inject, it } from "vitest";

const baseUrl = inject("baseUrl");

describe("wrangler dev", () => {
	it("answers /healthz with ok", async () => {
		const response = await fetch(`${baseUrl}/healthz`);
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ ok: true });
	});

	it("serves the OpenAPI document without auth", async () => {
		const response = await fetch(`${baseUrl}/openapi.json`);
		expect(response.status).toBe(200);
		const document = (await response.json()) as { openapi: string };
		expect(document.openapi).toBe("3.1.0");
	});

	it("serves the console's and the API reference's bundles with their own headers", async () => {
		for (const path of ["/console/app.js", "/docs/start.js"]) {
			const response = await fetch(`${baseUrl}${path}`);
			expect(response.status).toBe(200);
			expect(response.headers.get("Content-Type")).toContain("javascript");
			// dist/assets/_headers, and none of the API's.
			expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
			expect(response.headers.get("Cache-Control")).toBe("no-cache");
			expect(response.headers.get("X-Request-Id")).toBeNull();
			await response.body?.cancel();
		}
	});
});
