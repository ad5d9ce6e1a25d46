// Proves the web console end to end in Debian's Chromium against a real
// `wrangler dev` serving the demo fleet with simulated host agents: login and
// its refusal, the fleet per domain and site with each host agent's channel
// shown connected, a service processor's table and sessions, a browser
// terminal (JWE built in the page) answering a shell command, terminating a
// session only once asked twice (its close reason shown in the terminal,
// once), a migration followed
// to `completed` with its risk bars (a terminal open on that VM going on,
// its status line saying the VM moved), a VF transfer's hold and lift on the
// timeline, a closed session's recording played back, a live session watched
// read-only, and the host page's session row showing its viewers and its
// recording (stored once the session closes). Each test starts from its own
// signed-in tab. Screenshots go to test-results/screenshots/. The other files here prove the terminal view,
// migrations, devices, recordings and layout in more detail. Does not prove
// other browsers.
import type { Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
	adminApi,
	baseUrl,
	chromiumPath,
	demoHostIds,
	demoVmKeys,
	newPage,
	openConsole,
	screenshot,
	sharedBrowser,
	signedInPage,
	submitToken,
	terminalLine,
	typeLine,
	watchLive,
} from "./support";

/** Presses Terminate on a session's row of its host page and waits for the question; returns the row. */
async function askToTerminate(admin: Page, sessionId: string) {
	await admin.goto(`${baseUrl}/console#/hosts/fra1-h1`);
	const row = admin.locator("table.sessions tbody tr", { hasText: sessionId });
	await row.getByRole("button", { name: "Terminate", exact: true }).click();
	await row.getByText("Really terminate?").waitFor();
	return row;
}

describe.skipIf(!chromiumPath)("web console", () => {
	const browser = sharedBrowser();
	// Every test starts from a tab of its own, just signed in: none relies on
	// where another left a shared one.
	let page: Page;
	beforeEach(async () => {
		page = await signedInPage(browser());
	});
	afterEach(async () => {
		await page?.close();
	});

	it("refuses a wrong admin token with the problem's message", async () => {
		const signedOut = await newPage(browser());
		try {
			await submitToken(signedOut, "not-the-token");
			await signedOut.locator("#login [role=alert]", { hasText: "401 unauthorized" }).waitFor();
			expect(await signedOut.evaluate(() => sessionStorage.length)).toBe(0);
		} finally {
			await signedOut.close();
		}
	});

	it("shows the fleet per broadcast domain and site after login", async () => {
		await page.locator("section.domain[data-domain=edge-prod] table.hosts").first().waitFor();
		const prod = page.locator("section.domain[data-domain=edge-prod]");
		expect(await prod.locator("h3").allTextContents()).toEqual(["Site ams1", "Site fra1"]);
		expect(await prod.getByRole("link", { name: "fra1-h1" }).count()).toBe(1);
		expect(await page.locator("section.domain[data-domain=edge-lab] tbody tr").count()).toBe(2);
		await screenshot(page, "fleet");
	});

	it("shows every simulated host agent as connected in the fleet view", async () => {
		await page.goto(`${baseUrl}/console#/fleet`);
		await page.locator("table.hosts tbody tr").first().waitFor();
		expect(demoHostIds.length).toBeGreaterThan(0);
		for (const hostId of demoHostIds) {
			const row = page.locator("table.hosts tbody tr", {
				has: page.getByRole("link", { name: hostId, exact: true }),
			});
			expect(await row.locator(".agent.connected").count(), hostId).toBe(1);
		}
	});

	it("keeps the admin token in sessionStorage only", async () => {
		const stored = await page.evaluate(() => ({
			session: Object.values(sessionStorage),
			local: localStorage.length,
		}));
		expect(stored).toEqual({ session: [expect.any(String)], local: 0 });
		expect(await page.context().cookies()).toEqual([]);
	});

	it("lists a service processor's table with key versions and no keys", async () => {
		await page.goto(`${baseUrl}/console#/hosts/fra1-h1`);
		const table = page.locator("table.vms");
		await table.getByText("web-1", { exact: true }).waitFor();
		const text = (await table.textContent()) ?? "";
		expect(text).toContain("Key version");
		for (const key of Object.values(demoVmKeys)) expect(text).not.toContain(key);
	});

	it("opens a VM's console in the browser and gets a shell answer", async () => {
		const sessionId = await openConsole(page, "edge-prod", "web-1");
		expect(sessionId).toMatch(/^fra1-h1~/);
		await page.locator("#terminal .xterm-rows").getByText("root@web-1:~#").first().waitFor();
		await typeLine(page, "hostname");
		await terminalLine(page, "#terminal", "web-1");
		await typeLine(page, "echo hello from the browser");
		await terminalLine(page, "#terminal", "hello from the browser");
		await screenshot(page, "terminal");
	});

	it("terminates a session from the host page once asked twice; the terminal says why it closed, once", async () => {
		const terminal = await signedInPage(browser());
		const admin = await signedInPage(browser());
		try {
			const row = await askToTerminate(admin, await openConsole(terminal, "edge-prod", "web-1"));
			await row.getByRole("button", { name: "Yes, terminate" }).click();
			await row.getByText("terminated").waitFor();
			const status = terminal.locator("#terminal-status", { hasText: "terminated" });
			await status.waitFor();
			expect(await status.textContent()).toMatch(/^closed terminated \(code \d+\)$/);
		} finally {
			await terminal.close();
			await admin.close();
		}
	});

	it("asks before terminating a session, and Keep open leaves it open", async () => {
		const terminal = await signedInPage(browser());
		const admin = await signedInPage(browser());
		const deletes: string[] = [];
		admin.on("request", (request) => {
			if (request.method() === "DELETE") deletes.push(request.url());
		});
		try {
			const sessionId = await openConsole(terminal, "edge-prod", "web-1");
			const row = await askToTerminate(admin, sessionId);
			await row.getByRole("button", { name: "Keep open" }).click();
			await row.getByRole("button", { name: "Terminate", exact: true }).waitFor();
			expect(deletes).toEqual([]);
			const { body } = await adminApi<{ state: string }>(
				"GET",
				`/v1/sessions/${encodeURIComponent(sessionId)}`,
			);
			expect(body.state).toBe("established");
		} finally {
			await terminal.close();
			await admin.close();
		}
	});

	it("draws a dry run's risk rules as bars against their thresholds", async () => {
		await page.goto(`${baseUrl}/console#/migrations?vm=db-2`);
		await page.locator("#start-migration select[name=targetHostId]").selectOption("fra1-h1");
		await page.locator("#start-migration input[name=dryRun]").check();
		await page.locator("#start-migration button[type=submit]").click();
		const result = page.locator("#migration-result");
		await result.getByText("Dry run: nothing stored or sent").waitFor();
		expect(await result.locator(".risk .rule").count()).toBeGreaterThanOrEqual(6);
		expect(await result.locator(".risk .rule.triggered").count()).toBeGreaterThan(0);
		expect(
			await result.locator("table.sets .state.skipped, table.sets .state.pending").count(),
		).toBeGreaterThan(0);
	});

	it("starts a migration and follows it live to completed; a terminal open on the VM goes on and says it moved", async () => {
		const terminal = await signedInPage(browser());
		await openConsole(terminal, "edge-prod", "web-2");
		await page.goto(`${baseUrl}/console#/migrations?vm=web-2`);
		await page.locator("#start-migration select[name=targetHostId]").selectOption("fra1-h2");
		await page.locator("#start-migration button[type=submit]").click();
		await page.waitForURL(/#\/migrations\/[^/]+$/);
		await page.locator("#migration-state", { hasText: "completed" }).waitFor({ timeout: 45_000 });
		expect(await page.locator(".progress").getAttribute("aria-valuenow")).toBe("100");
		await screenshot(page, "migration");
		// The status line says so; the console stream itself carries nothing of ours.
		await terminal
			.locator("#terminal-status", { hasText: "the VM moved to fra1-h2; the session goes on" })
			.waitFor();
		await typeLine(terminal, "hostname");
		await terminalLine(terminal, "#terminal", "web-2");
		await terminal.close();
	});

	it("transfers a VF and shows its hold and lift on the VF timeline", async () => {
		await page.goto(`${baseUrl}/console#/devices?host=fra1-h1`);
		const device = page.locator("section.device[data-device='fra1-h1/0000:3b:00.0']");
		const form = device.locator("form.transfer").first();
		await form.waitFor();
		const vfIndex = await form.getAttribute("data-vf");
		await form.locator("select").selectOption("fra1-h3/0000:3b:00.0");
		await form.getByRole("button").click();
		const lane = device.locator(`.timeline .lane[data-vf='${vfIndex}']`);
		await lane.locator("li[data-type='mapping.lifted']").waitFor();
		expect(await lane.locator("li[data-type='mapping.held']").count()).toBe(1);
		expect(await lane.locator(".hold").count()).toBe(1);
		await device.locator("table.translation-table", { hasText: "fra1-h3" }).waitFor();
		await screenshot(page, "devices");
	});

	it("plays a closed session's recording back", async () => {
		const sessionId = await openConsole(page, "edge-prod", "web-3");
		await typeLine(page, "hostname");
		await terminalLine(page, "#terminal", "web-3");
		await typeLine(page, "exit");
		await page.locator("#terminal-status", { hasText: "closed" }).waitFor();
		await page.goto(`${baseUrl}/console#/recordings?session=${encodeURIComponent(sessionId)}`);
		await terminalLine(page, "#playback", "web-3");
		await page.locator("#playback-status", { hasText: "ended" }).waitFor();
	});

	it("watches a live session read-only", async () => {
		const sessionId = await openConsole(page, "edge-prod", "web-1");
		const viewer = await watchLive(browser(), sessionId);
		try {
			await typeLine(page, "echo seen by the viewer");
			await terminalLine(viewer, "#playback", "seen by the viewer");
		} finally {
			await viewer.close();
		}
	});

	it("shows a session's viewers and recording on the host page, stored once it closes", async () => {
		const sessionId = await openConsole(page, "edge-prod", "web-1");
		const viewer = await watchLive(browser(), sessionId);
		const admin = await signedInPage(browser());
		try {
			await admin.goto(`${baseUrl}/console#/hosts/fra1-h1`);
			const row = admin.locator("table.sessions tbody tr", { hasText: sessionId });
			await row.locator(".viewers", { hasText: /^1$/ }).waitFor();
			await row.locator(".recording .state.recording").waitFor();
			await typeLine(page, "exit");
			await row.locator(".recording .state.stored").waitFor();
			expect(await row.locator(".viewers").textContent()).toBe("0");
			expect(await row.locator(".recording").textContent()).toMatch(
				/^\d+(\.\d)? (B|KiB) · (1 event|[1-9]\d* events)\s*stored$/,
			);
			await screenshot(admin, "host");
		} finally {
			await viewer.close();
			await admin.close();
		}
	});
});
