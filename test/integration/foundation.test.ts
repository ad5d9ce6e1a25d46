// Proves the conventions every route shares: health, docs, problems for
// unknown routes, wrong methods and oversized bodies, request ids and
// security headers. Resource behaviour is tested in each resource's file.
import { describe, expect, it } from "vitest";
import { adminToken, call } from "../support/http";

describe("foundation", () => {
	it("answers /healthz with ok", async () => {
		const response = await call("/healthz");
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ ok: true });
	});

	it("serves an OpenAPI 3.1 document and the docs page without auth", async () => {
		const document = await call("/openapi.json");
		expect(document.status).toBe(200);
		expect(((await document.json()) as { openapi: string }).openapi).toBe("3.1.0");
		const docs = await call("/docs");
		expect(docs.status).toBe(200);
		expect(docs.headers.get("Content-Type")).toContain("text/html");
		// The reference runs only the Worker's own script (it shares the console's origin).
		expect(docs.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
		const html = await docs.text();
		expect(html).toContain('<script src="/docs/scalar.js"></script>');
		expect(html).not.toMatch(/src="https?:/);
	});

	it("answers an unknown route with a not_found problem", async () => {
		const response = await call("/nope");
		expect(response.status).toBe(404);
		expect(response.headers.get("Content-Type")).toBe("application/problem+json");
		expect(await response.json()).toMatchObject({
			status: 404,
			code: "not_found",
			title: expect.any(String),
		});
	});

	it("answers a known path with the wrong method with method_not_allowed and Allow", async () => {
		const response = await call("/healthz", { method: "DELETE" });
		expect(response.status).toBe(405);
		expect(response.headers.get("Allow")).toContain("GET");
		expect(await response.json()).toMatchObject({ code: "method_not_allowed" });
	});

	it("answers a known path with a trailing slash as not_found, whatever the method", async () => {
		for (const method of ["GET", "PUT"]) {
			const response = await call("/v1/hosts/", {
				method,
				headers: { Authorization: `Bearer ${adminToken}` },
			});
			expect(response.status).toBe(404);
			expect(await response.json()).toMatchObject({ code: "not_found" });
		}
	});

	it("lets pages of any origin read the public routes and post session requests", async () => {
		const origin = "https://device.example";
		const preflight = await call("/v1/sessions", {
			method: "OPTIONS",
			headers: {
				Origin: origin,
				"Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "content-type",
			},
		});
		expect(preflight.status).toBe(204);
		expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
		expect(preflight.headers.get("Access-Control-Allow-Methods")).toContain("POST");
		const refused = await call("/v1/sessions", {
			method: "POST",
			headers: { Origin: origin, "Content-Type": "application/jose" },
			body: "not-a-jwe",
		});
		expect(refused.headers.get("Access-Control-Allow-Origin")).toBe("*");
		expect(refused.headers.get("Access-Control-Expose-Headers")).toContain("Retry-After");
		for (const path of ["/openapi.json", "/.well-known/jwks.json"]) {
			const response = await call(path, { headers: { Origin: origin } });
			expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
		}
		// Admin routes stay same-origin.
		const admin = await call("/v1/hosts", { headers: { Origin: origin } });
		expect(admin.headers.get("Access-Control-Allow-Origin")).toBeNull();
	});

	it("refuses bodies over 64 KiB with payload_too_large", async () => {
		const response = await call("/healthz", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ padding: "x".repeat(65 * 1024) }),
		});
		expect(response.status).toBe(413);
		expect(await response.json()).toMatchObject({ code: "payload_too_large" });
	});

	it("tags every response with a request id and security headers", async () => {
		const response = await call("/healthz");
		expect(response.headers.get("X-Request-Id")).toBeTruthy();
		expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
	});

	it("gives each request its own id, the Ray ID where Cloudflare sent one", async () => {
		const ids = new Set<string | null>();
		for (let index = 0; index < 5; index++)
			ids.add((await call("/healthz")).headers.get("X-Request-Id"));
		expect(ids.size).toBe(5);
		const rayed = await call("/healthz", { headers: { "cf-ray": "8f1e2d3c4b5a6978-FRA" } });
		expect(rayed.headers.get("X-Request-Id")).toBe("8f1e2d3c4b5a6978-FRA");
		const forged = await call("/healthz", { headers: { "cf-ray": 'x"}, {"level": "error' } });
		expect(forged.headers.get("X-Request-Id")).toMatch(/^[\w-]+$/);
	});
});
