// Proves the Devices view's transfer form follows a function wherever it
// moved: a VF transferred once is transferred again from its new device (the
// mapping stays in the table of the device it was first made through), and
// the VF timeline says it is not to time scale and dates its events. Uses
// api-2's function on ams1-h1, which no other test moves. Does not prove the
// hold's timing (the PCI integration tests do).
import { describe, expect, it } from "vitest";
import { baseUrl, chromiumPath, sharedBrowser, signedInPage } from "./support";

describe.skipIf(!chromiumPath)("devices view", () => {
	const browser = sharedBrowser();

	it("transfers a function a second time from where it moved", async () => {
		const page = await signedInPage(browser());
		try {
			await page.goto(`${baseUrl}/console#/devices?host=ams1-h1`);
			const device = page.locator("section.device[data-device='ams1-h1/0000:3b:00.0']");
			const row = device.locator("table.translation-table tbody tr", { hasText: "api-2" });
			const servedBy = row.locator("td").nth(3);
			await row.locator("form.transfer select").selectOption("fra1-h3/0000:3b:00.0");
			await row.locator("form.transfer button").click();
			await servedBy.getByText(/^fra1-h3 0000:3b:00\.0 VF \d+$/).waitFor();
			// The form now moves it on from fra1-h3, so it no longer offers fra1-h3 itself.
			const options = await row
				.locator("form.transfer option")
				.evaluateAll((elements) => elements.map((option) => option.getAttribute("value")));
			expect(options).not.toContain("fra1-h3/0000:3b:00.0");
			await row.locator("form.transfer select").selectOption("ams1-h2/0000:41:00.0");
			await row.locator("form.transfer button").click();
			await servedBy.getByText(/^ams1-h2 0000:41:00\.0 VF \d+$/).waitFor();
		} finally {
			await page.close();
		}
	});

	it("says the VF timeline is not to time scale, and dates its events", async () => {
		const page = await signedInPage(browser());
		try {
			await page.goto(`${baseUrl}/console#/devices?host=ams1-h2`);
			const timeline = page.locator("section.device .timeline").first();
			await timeline.waitFor();
			expect(await timeline.locator(".axis").textContent()).toContain("not to time scale");
			const year = String(new Date().getFullYear());
			// The seeded function of ci-runner-1 gives the device its events, whatever ran before.
			const items = await timeline.locator("ol.events li").allTextContents();
			expect(items.length).toBeGreaterThan(0);
			for (const item of items) expect(item).toContain(year);
		} finally {
			await page.close();
		}
	});
});
