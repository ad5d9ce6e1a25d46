// Proves the web console's page is served by the Worker with a CSP that lets
// only the Worker's own scripts run and lets the page reach only this origin
// (HTTP and its wss:// channels), carries no data, and that the API's responses
// keep their headers without that CSP. Does not prove the browser code
// (test/browser drives it in Chromium) nor the static assets (wrangler serves
// them from dist/assets, outside this test's Worker).
import { describe, expect, it } from "vitest";
import { call } from "../support/http";

describe("web console page", () => {
	it("is served at /console without auth as HTML loading the bundled script", async () => {
		const response = await call("/console");
		expect(response.status).toBe(200);
		expect(response.headers.get("Content-Type")).toContain("text/html");
		const html = await response.text();
		expect(html).toContain('<script type="module" src="/console/app.js"></script>');
		expect(html).not.toContain("test-admin-token");
	});

	it("allows only same-origin scripts and connections, including this origin's wss:// channels", async () => {
		const policy = (await call("/console")).headers.get("Content-Security-Policy") ?? "";
		const directives = Object.fromEntries(
			policy.split("; ").map((directive) => {
				const [name = "", ...values] = directive.split(" ");
				return [name, values];
			}),
		);
		expect(directives["default-src"]).toEqual(["'none'"]);
		expect(directives["script-src"]).toEqual(["'self'"]);
		expect(directives["connect-src"]).toEqual(["'self'", "wss://edgevisor.test"]);
		expect(directives["frame-ancestors"]).toEqual(["'none'"]);
	});

	it("keeps the shared security headers on the page", async () => {
		const response = await call("/console");
		expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
		expect(response.headers.get("X-Frame-Options")).toBe("SAMEORIGIN");
	});

	it("leaves API responses without the page's policy", async () => {
		const response = await call("/healthz");
		expect(response.headers.get("Content-Security-Policy")).toBeNull();
		expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
	});
});
