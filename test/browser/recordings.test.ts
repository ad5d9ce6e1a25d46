// Proves the Recordings view without a pasted session id: the sessions with a
// recording are listed and one is played from the list; and "Watch live"
// shows what the VM printed before the viewer joined (drawn from the
// recording so far; a viewer channel sends only later output), once. Each
// test opens its own session. Does not prove playback timing (the asciicast
// playback unit tests do).
import { describe, expect, it } from "vitest";
import {
	chromiumPath,
	openConsole,
	screenshot,
	sharedBrowser,
	signedInPage,
	terminalLine,
	terminalRows,
	typeLine,
	watchLive,
} from "./support";

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

	it("shows a live viewer what the VM printed before it joined, once", async () => {
		const page = await signedInPage(browser());
		try {
			const sessionId = await openConsole(page, "edge-prod", "db-1");
			await typeLine(page, "echo printed before the viewer");
			await terminalLine(page, "#terminal", "printed before the viewer");
			const viewer = await watchLive(browser(), sessionId);
			try {
				await terminalLine(viewer, "#playback", "printed before the viewer");
				expect(await terminalRows(viewer, "#playback", "printed before the viewer").count()).toBe(
					1,
				);
				await typeLine(page, "echo printed after the viewer");
				await terminalLine(viewer, "#playback", "printed after the viewer");
			} finally {
				await viewer.close();
			}
		} finally {
			await page.close();
		}
	});
});
