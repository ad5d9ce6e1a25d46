// Proves the API reference (/docs) works without internet: every request to
// another origin is refused, yet the page renders the OpenAPI document (its
// operations by name), running only the Worker's own script under the page's
// Content-Security-Policy. The renderer's pinning is in scripts/build-docs.mjs.
import { describe, expect, it } from "vitest";
import { baseUrl, chromiumPath, newPage, sharedBrowser } from "./support";

describe.skipIf(!chromiumPath)("API reference", () => {
	const browser = sharedBrowser();

	it("renders /openapi.json with nothing fetched from another origin, within its CSP", async () => {
		const page = await newPage(browser());
		const origin = new URL(baseUrl).origin;
		await page.route("**/*", (route) => {
			const url = new URL(route.request().url());
			return url.origin === origin ? route.continue() : route.abort();
		});
		const refused: string[] = [];
		page.on("console", (message) => {
			if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
		});
		try {
			const response = await page.goto(`${baseUrl}/docs`);
			expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
			// The document's title, and its operations grouped by tag (PCI's among them).
			await page.getByRole("heading", { name: "Edgevisor" }).first().waitFor();
			await page.getByText("pci", { exact: true }).first().waitFor();
			expect(refused).toEqual([]);
		} finally {
			await page.close();
		}
	});
});
