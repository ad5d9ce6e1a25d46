// Proves the Recordings view without a pasted session id: the sessions with a
// recording are listed and one is played from the list; a recording plays at
// the size the user's terminal had, following its resizes; and "Watch live"
// shows what the VM printed before the viewer joined (drawn from the
// recording so far; a viewer channel sends only later output), once, laid
// out at the user's terminal size whatever the viewer's window. Each test
// opens its own session. Sizes are compared as drawn widths (one font, so
// equal widths are equal columns). Does not prove playback timing (the
// asciicast playback unit tests do).
import type { Browser, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
	baseUrl,
	chromiumPath,
	consoleThatEchoed,
	openConsole,
	screenshot,
	sharedBrowser,
	signedInPage,
	sizesTold,
	terminalLine,
	terminalRowCount,
	terminalRows,
	terminalWidth,
	typeLine,
	waitMs,
	watchLive,
} from "./support";

const poll = { timeout: waitMs };

/**
 * A console to `vmId` that printed "printed before the viewer", then
 * watched live from a second tab: `check` runs with both tabs, closed after.
 */
async function watchedConsole(
	browser: Browser,
	domain: string,
	vmId: string,
	check: (page: Page, viewer: Page) => Promise<void>,
): Promise<void> {
	const page = await signedInPage(browser);
	try {
		const sessionId = await openConsole(page, domain, vmId);
		await typeLine(page, "echo printed before the viewer");
		await terminalLine(page, "#terminal", "printed before the viewer");
		const viewer = await watchLive(browser, sessionId);
		try {
			await check(page, viewer);
		} finally {
			await viewer.close();
		}
	} finally {
		await page.close();
	}
}

describe.skipIf(!chromiumPath)("recordings view", () => {
	const browser = sharedBrowser();

	it("lists the sessions with a recording and plays the one picked", async () => {
		const page = await signedInPage(browser());
		try {
			const sessionId = await openConsole(page, "edge-prod", "cache-1");
			await typeLine(page, "echo picked from the list");
			await terminalLine(page, "#terminal", "picked from the list");
			await typeLine(page, "exit");
			await page.locator("#terminal-status", { hasText: "closed" }).waitFor();
			await page.locator("#nav a", { hasText: "Recordings" }).click();
			const row = page.locator("table.recorded-sessions tbody tr", { hasText: sessionId });
			await row.getByRole("link", { name: "Play" }).click();
			await terminalLine(page, "#playback", "picked from the list");
			await page.locator("#playback-status", { hasText: "ended" }).waitFor();
			await screenshot(page, "recordings");
		} finally {
			await page.close();
		}
	});

	it("shows a live viewer what the VM printed before it joined, once", () =>
		watchedConsole(browser(), "edge-prod", "db-1", async (page, viewer) => {
			await terminalLine(viewer, "#playback", "printed before the viewer");
			expect(await terminalRows(viewer, "#playback", "printed before the viewer").count()).toBe(1);
			await typeLine(page, "echo printed after the viewer");
			await terminalLine(viewer, "#playback", "printed after the viewer");
		}));

	it("plays a recording at the size the user's terminal had, following its resizes", async () => {
		const { page, sessionId, sent } = await consoleThatEchoed(browser(), "batch-1", "wide");
		try {
			const wideWidth = await terminalWidth(page, "#terminal");
			const toldBefore = sizesTold(sent).length;
			// Not 80 columns wide (the default a recording starts at when no size was told).
			await page.setViewportSize({ width: 900, height: 760 });
			await expect.poll(() => terminalWidth(page, "#terminal"), poll).toBeLessThan(wideWidth);
			await expect.poll(() => sizesTold(sent).length, poll).toBeGreaterThan(toldBefore);
			const narrowWidth = await terminalWidth(page, "#terminal");
			await typeLine(page, "echo narrow");
			await terminalLine(page, "#terminal", "narrow");
			await typeLine(page, "exit");
			await page.locator("#terminal-status", { hasText: "closed" }).waitFor();
			await page.goto(`${baseUrl}/console#/recordings?session=${encodeURIComponent(sessionId)}`);
			await page.locator("#playback-status", { hasText: "ended" }).waitFor();
			expect(await terminalWidth(page, "#playback")).toBeCloseTo(narrowWidth, 0);
			expect(await terminalRowCount(page, "#playback")).toBe(sizesTold(sent).at(-1)?.rows);
		} finally {
			await page.close();
		}
	});

	it("lays a live viewer's screen out at the user's terminal size, and follows it", () =>
		watchedConsole(browser(), "edge-lab", "ml-lab-1", async (page, viewer) => {
			// Its own window is narrower: fitted, it would have fewer columns.
			await viewer.setViewportSize({ width: 760, height: 760 });
			await terminalLine(viewer, "#playback", "printed before the viewer");
			const userWidth = await terminalWidth(page, "#terminal");
			await expect.poll(() => terminalWidth(viewer, "#playback"), poll).toBe(userWidth);
			await page.setViewportSize({ width: 900, height: 760 });
			await expect.poll(() => terminalWidth(page, "#terminal"), poll).toBeLessThan(userWidth);
			const narrower = await terminalWidth(page, "#terminal");
			await expect.poll(() => terminalWidth(viewer, "#playback"), poll).toBe(narrower);
		}));
});
