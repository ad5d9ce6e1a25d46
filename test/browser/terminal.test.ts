// Proves the browser terminal's view: at 1× pixel density an underscore is
// drawn (xterm.js clipped it at a line height of 1, so `snake_case` read as
// `snake case`), an open console session survives a visit to the other
// views (the view is kept, hidden, instead of closing its socket), and the
// terminal tells the server its size when it opens and when the page
// resizes it (console subprotocol v2, keys then typed as binary), which the
// session's recording follows. Compares rendered pixels of two rows, so it
// proves what is drawn, not which option draws it; does not prove other
// fonts or pixel densities.
import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
	adminApi,
	chromiumPath,
	consoleThatEchoed,
	openConsole,
	recordedSize,
	sharedBrowser,
	signedInPage,
	sizesTold,
	terminalLine,
	terminalRowCount,
	terminalRows,
	typeLine,
	waitMs,
} from "./support";

/**
 * A screenshot of the pixels wholly inside `row`'s box. A row may sit at a
 * fractional offset; the pixel it shares with the next row shows a faint
 * sliver of a glyph clipped at the row's edge, which must not count as drawn.
 */
async function pixelsInside(page: Page, row: Locator): Promise<Buffer> {
	const box = await row.boundingBox();
	if (!box) throw new Error("the terminal row is not displayed");
	const top = Math.ceil(box.y);
	const left = Math.ceil(box.x);
	const clip = {
		x: left,
		y: top,
		width: Math.floor(box.x + box.width) - left,
		height: Math.floor(box.y + box.height) - top,
	};
	return page.screenshot({ clip, caret: "hide" });
}

describe.skipIf(!chromiumPath)("web terminal", () => {
	const browser = sharedBrowser();

	it("draws the underscore of snake_case at 1× pixel density", async () => {
		const page = await signedInPage(browser());
		try {
			await openConsole(page, "edge-prod", "api-1");
			await typeLine(page, "echo snake_case");
			await terminalLine(page, "#terminal", "snake_case");
			await typeLine(page, "echo snake case");
			const spaced = page
				.locator("#terminal .xterm-rows > div")
				.filter({ hasText: /^\s*snake\scase\s*$/ })
				.first();
			await spaced.waitFor();
			const underscored = terminalRows(page, "#terminal", "snake_case").first();
			// The same text but one glyph, font and row height: identical pixels mean the underscore was clipped.
			const withUnderscore = await pixelsInside(page, underscored);
			const withSpace = await pixelsInside(page, spaced);
			expect(withUnderscore.equals(withSpace)).toBe(false);
		} finally {
			await page.close();
		}
	});

	it("keeps an open console session while the user visits other views", async () => {
		const page = await signedInPage(browser());
		try {
			const sessionId = await openConsole(page, "edge-prod", "web-3");
			await page.locator("#nav a", { hasText: "Fleet" }).click();
			await page.locator("table.hosts").first().waitFor();
			await page.locator("#nav a", { hasText: "Migrations" }).click();
			await page.locator("#start-migration").waitFor();
			await page.locator("#nav a", { hasText: "Terminal" }).click();
			await page.locator("#terminal-status", { hasText: `session ${sessionId}` }).waitFor();
			await typeLine(page, "echo still connected");
			await terminalLine(page, "#terminal", "still connected");
			const { body } = await adminApi<{ state: string }>(
				"GET",
				`/v1/sessions/${encodeURIComponent(sessionId)}`,
			);
			expect(body.state).toBe("established");
		} finally {
			await page.close();
		}
	});

	it("tells the server its size when it opens and when the page resizes it, and the recording follows", async () => {
		const { page, sessionId, sent } = await consoleThatEchoed(browser(), "api-2", "sized");
		try {
			const [opening] = sizesTold(sent);
			expect(opening?.rows).toBe(await terminalRowCount(page, "#terminal"));
			// Under v2 a text frame is a control message: the keys went as binary.
			expect(sent.filter((frame) => typeof frame === "string")).toHaveLength(
				sizesTold(sent).length,
			);
			expect(sent.some((frame) => typeof frame !== "string")).toBe(true);
			await page.setViewportSize({ width: 800, height: 760 });
			const poll = { timeout: waitMs };
			await expect.poll(() => sizesTold(sent).at(-1)?.cols, poll).toBeLessThan(opening?.cols ?? 0);
			const resized = sizesTold(sent).at(-1);
			await expect.poll(() => recordedSize(sessionId), poll).toEqual(resized);
		} finally {
			await page.close();
		}
	});
});
