// Helpers for the browser tests: Debian's Chromium driven by playwright-core,
// logging in through the console's own form, screenshots as test artifacts.
import { mkdir } from "node:fs/promises";
import { type Browser, chromium, type Page } from "playwright-core";
import { inject } from "vitest";

/** Screenshots land here; the README's are copied from a run into docs/screenshots/. */
export const screenshotDir = "test-results/screenshots";
/** Every wait on the page is bounded by this. */
export const waitMs = 20_000;

export const baseUrl = inject("consoleBaseUrl");
export const adminToken = inject("consoleAdminToken");
export const demoVmKeys = inject("demoVmKeys");
/** Found or installed by the global setup (see chromium.ts); empty when there is none. */
export const chromiumPath = inject("chromiumPath");

/** A headless Chromium. */
export function launchBrowser(): Promise<Browser> {
	return chromium.launch({ executablePath: chromiumPath, headless: true });
}

/** A fresh tab (fresh sessionStorage) at a desktop size. */
export async function newPage(browser: Browser): Promise<Page> {
	const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
	page.setDefaultTimeout(waitMs);
	return page;
}

/** Opens the console and submits `token` through the login form. */
export async function submitToken(page: Page, token: string): Promise<void> {
	await page.goto(`${baseUrl}/console`);
	await page.locator("#login input[name=token]").fill(token);
	await page.locator("#login button[type=submit]").click();
}

/** Signs in with the admin token and waits for the signed-in navigation. */
export async function login(page: Page): Promise<void> {
	await submitToken(page, adminToken);
	await page.locator("#nav").waitFor();
}

/** Saves a screenshot of the page as a test artifact. */
export async function screenshot(page: Page, name: string): Promise<void> {
	await mkdir(screenshotDir, { recursive: true });
	await page.screenshot({ path: `${screenshotDir}/${name}.png` });
}
