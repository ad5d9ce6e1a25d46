// Proves the console's polish at an 800 px wide window: no view scrolls the
// whole page sideways (wide tables scroll in their own box), long ids stay on
// one line with the whole id in a tooltip, memory is written in GiB and times
// with their date; and the bare address leads to the console, whose page
// carries its own icon. Does not prove looks beyond these measurements.
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
	baseUrl,
	chromiumPath,
	newPage,
	openConsole,
	screenshot,
	sharedBrowser,
	signedInPage,
} from "./support";

const narrow = { width: 800, height: 700 };

/** How far the page itself scrolls sideways (0 when everything fits or scrolls in its own box). */
async function pageOverflowPx(page: Page): Promise<number> {
	return page.locator("html").evaluate((html) => html.scrollWidth - html.clientWidth);
}

describe.skipIf(!chromiumPath)("console layout", () => {
	const browser = sharedBrowser();

	it("fits every view in an 800 px window, wide tables scrolling in their own box", async () => {
		const terminal = await signedInPage(browser());
		const page = await signedInPage(browser(), narrow);
		try {
			await openConsole(terminal, "edge-prod", "web-1");
			const views: Array<[string, string]> = [
				["#/fleet", "table.hosts"],
				["#/hosts/fra1-h1", "table.sessions"],
				["#/migrations", "#start-migration"],
				["#/devices?host=fra1-h1", "table.translation-table"],
				["#/recordings", "table.recorded-sessions"],
			];
			for (const [hash, ready] of views) {
				await page.goto(`${baseUrl}/console${hash}`);
				await page.locator(ready).first().waitFor();
				expect(await pageOverflowPx(page), hash).toBe(0);
			}
			await page.goto(`${baseUrl}/console#/hosts/fra1-h1`);
			await page.locator("table.sessions").waitFor();
			await screenshot(page, "host-800px");
		} finally {
			await terminal.close();
			await page.close();
		}
	});

	it("keeps a session id on one line, cut with an ellipsis, the whole id in its tooltip", async () => {
		const terminal = await signedInPage(browser());
		const page = await signedInPage(browser(), narrow);
		try {
			const sessionId = await openConsole(terminal, "edge-prod", "web-1");
			await page.goto(`${baseUrl}/console#/hosts/fra1-h1`);
			const id = page.locator("table.sessions code.id", { hasText: sessionId });
			await id.waitFor();
			expect(await id.getAttribute("title")).toBe(sessionId);
			const lineHeightPx = await id.evaluate((element) =>
				Number.parseFloat(
					element.ownerDocument.defaultView?.getComputedStyle(element).lineHeight ?? "",
				),
			);
			expect((await id.boundingBox())?.height).toBeLessThan(1.5 * lineHeightPx);
		} finally {
			await terminal.close();
			await page.close();
		}
	});

	it("writes memory in GiB and times with their date", async () => {
		const page = await signedInPage(browser());
		try {
			await page.goto(`${baseUrl}/console#/hosts/fra1-h1`);
			const row = page.locator("table.vms tbody tr", { hasText: "web-1" });
			await row.waitFor();
			const cells = await row.locator("td").allTextContents();
			expect(cells[2]).toBe("4 GiB");
			expect(cells[4]).toContain(String(new Date().getFullYear()));
		} finally {
			await page.close();
		}
	});

	it("sends the bare address on to the console", async () => {
		const response = await fetch(`${baseUrl}/`, {
			redirect: "manual",
			signal: AbortSignal.timeout(20_000),
		});
		expect(response.status).toBe(302);
		expect(new URL(response.headers.get("location") ?? "", baseUrl).pathname).toBe("/console");
	});

	it("gives the console page an icon of its own, inline", async () => {
		const page = await newPage(browser());
		try {
			await page.goto(`${baseUrl}/console`);
			const href = (await page.locator("link[rel=icon]").getAttribute("href")) ?? "";
			expect(href).toMatch(/^data:image\/svg\+xml,/);
			// It must draw: an image of it has a size once decoded.
			await page.setContent(`<img alt="icon" src="${href}">`);
			const width = await page.locator("img").evaluate(async (image) => {
				await image.decode();
				return image.naturalWidth;
			});
			expect(width).toBeGreaterThan(0);
		} finally {
			await page.close();
		}
	});
});
