// Helpers for the browser tests: Debian's Chromium driven by playwright-core,
// logging in through the console's own form, consoles opened and typed into
// through the page, the admin API called directly for setup and checks,
// screenshots as test artifacts. Every wait is bounded (waitMs).
import { mkdir } from "node:fs/promises";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, inject } from "vitest";
import { parseConsoleControl, type TerminalSize } from "../../shared/console-protocol";
import { adminRequest } from "../support/admin-request";
import { recordedSize as recordedSizeOver } from "../support/recorded-size";

/** Screenshots land here; the README's are copied from a run into docs/screenshots/. */
export const screenshotDir = "test-results/screenshots";
/** Every wait on the page is bounded by this. */
export const waitMs = 20_000;

export const baseUrl = inject("consoleBaseUrl");
export const adminToken = inject("consoleAdminToken");
export const demoVmKeys = inject("demoVmKeys");
export const demoHostIds = inject("demoHostIds");
/** Found or installed by the global setup (see chromium.ts); empty when there is none. */
export const chromiumPath = inject("chromiumPath");

/** A headless Chromium. */
export function launchBrowser(): Promise<Browser> {
	return chromium.launch({ executablePath: chromiumPath, headless: true });
}

/**
 * One Chromium for the tests of the enclosing `describe`: launched before
 * them, closed after. Returns the running browser's getter.
 */
export function sharedBrowser(): () => Browser {
	let browser: Browser | undefined;
	beforeAll(async () => {
		browser = await launchBrowser();
	});
	afterAll(async () => {
		await browser?.close();
	});
	return () => {
		if (!browser) throw new Error("the browser did not start");
		return browser;
	};
}

/** A fresh tab (fresh sessionStorage), at a desktop size unless told otherwise, at 1× pixel density. */
export async function newPage(
	browser: Browser,
	viewport = { width: 1200, height: 760 },
): Promise<Page> {
	const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
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

/** A new signed-in tab. */
export async function signedInPage(browser: Browser, viewport?: { width: number; height: number }) {
	const page = await newPage(browser, viewport);
	await login(page);
	return page;
}

/** Saves a screenshot of the page as a test artifact. */
export async function screenshot(page: Page, name: string): Promise<void> {
	await mkdir(screenshotDir, { recursive: true });
	await page.screenshot({ path: `${screenshotDir}/${name}.png` });
}

/** Calls the admin API from the test itself, bounded by waitMs. */
export function adminApi<T>(
	method: string,
	path: string,
	body?: unknown,
): Promise<{ status: number; body: T }> {
	return adminRequest<T>(
		{ baseUrl, adminToken, signal: AbortSignal.timeout(waitMs) },
		method,
		path,
		body,
	);
}

/**
 * Registers a host no agent ever connects to (so it shows disconnected), the
 * newest host of the fleet; the id is unique to the caller.
 */
export async function registerHostWithoutAgent(prefix: string): Promise<string> {
	const hostId = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
	const { status } = await adminApi("PUT", `/v1/hosts/${hostId}`, {
		domain: "edge-prod",
		site: "fra1",
		cpu: { model: "Intel Xeon Gold 6338 (Ice Lake)", flags: ["avx2", "vmx"] },
		memoryMiB: 262_144,
		hypervisor: { name: "qemu-kvm", version: "9.2.0" },
	});
	if (status !== 201) throw new Error(`registering ${hostId} answered ${status}`);
	return hostId;
}

const connectedSession = /^connected .* session (\S+)$/;

/** Opens a console to `vmId` in `tab` and waits until the channel is connected; its session id. */
export async function openConsole(tab: Page, domain: string, vmId: string): Promise<string> {
	await tab.goto(`${baseUrl}/console#/terminal`);
	// A tab already on the terminal keeps its view: its session is not the new one.
	const previous = (await tab.locator("#terminal-status").textContent())?.match(
		connectedSession,
	)?.[1];
	await tab.locator("#connect input[name=domain]").fill(domain);
	await tab.locator("#connect input[name=vm]").fill(vmId);
	await tab.locator("#connect input[name=key]").fill(demoVmKeys[vmId] ?? "");
	await tab.locator("#connect button[type=submit]").click();
	const status = tab.locator("#terminal-status", {
		hasText: connectedSession,
		...(previous ? { hasNotText: previous } : {}),
	});
	await status.waitFor();
	const sessionId = (await status.textContent())?.match(connectedSession)?.[1];
	if (!sessionId) throw new Error("no session id in the terminal status");
	return sessionId;
}

/** The rows of the terminal in `selector` that read exactly `text` (an answer, not the echoed command). */
export function terminalRows(tab: Page, selector: string, text: string) {
	const exactly = new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`);
	return tab.locator(`${selector} .xterm-rows > div`).filter({ hasText: exactly });
}

/** Waits until a terminal row of `selector` reads exactly `text`. */
export async function terminalLine(tab: Page, selector: string, text: string): Promise<void> {
	await terminalRows(tab, selector, text).first().waitFor();
}

/** Types a line into the page's terminal. */
export async function typeLine(tab: Page, line: string): Promise<void> {
	await tab.locator("#terminal .xterm").click();
	await tab.keyboard.type(line);
	await tab.keyboard.press("Enter");
}

/** Opens a new signed-in tab watching `sessionId` live, once its viewer channel is open. */
export async function watchLive(browser: Browser, sessionId: string): Promise<Page> {
	const viewer = await signedInPage(browser);
	await viewer.goto(
		`${baseUrl}/console#/recordings?session=${encodeURIComponent(sessionId)}&live=1`,
	);
	await viewer.locator("#playback-status", { hasText: "watching live" }).waitFor();
	return viewer;
}

/**
 * What `tab` sends on console user channels from now on, frame by frame as
 * the page sent them (a live list): text as strings, binary as Buffers.
 */
export function userChannelFrames(tab: Page): Array<string | Buffer> {
	const frames: Array<string | Buffer> = [];
	tab.on("websocket", (socket) => {
		if (!new URL(socket.url()).pathname.endsWith("/user")) return;
		socket.on("framesent", ({ payload }) => frames.push(payload));
	});
	return frames;
}

/**
 * A new signed-in tab with a console to the edge-prod VM `vmId` open that has
 * echoed `line`, and what the tab sends on its user channel (see userChannelFrames).
 */
export async function consoleThatEchoed(browser: Browser, vmId: string, line: string) {
	const page = await signedInPage(browser);
	const sent = userChannelFrames(page);
	const sessionId = await openConsole(page, "edge-prod", vmId);
	await typeLine(page, `echo ${line}`);
	await terminalLine(page, "#terminal", line);
	return { page, sessionId, sent };
}

/** The sizes told in `frames` (resize control messages), in order. */
export function sizesTold(frames: Array<string | Buffer>): TerminalSize[] {
	return frames.flatMap((frame) => {
		const control = typeof frame === "string" ? parseConsoleControl(frame) : undefined;
		return control ? [{ cols: control.cols, rows: control.rows }] : [];
	});
}

/** The terminal size a session's recording ends at, bounded by waitMs. */
export function recordedSize(sessionId: string): Promise<TerminalSize> {
	return recordedSizeOver({ baseUrl, adminToken, signal: AbortSignal.timeout(waitMs) }, sessionId);
}

/** The drawn width of the terminal in `selector`, in CSS pixels: its columns times one cell's width. */
export function terminalWidth(tab: Page, selector: string): Promise<number> {
	return tab
		.locator(`${selector} .xterm-screen`)
		.evaluate((screen) => screen.getBoundingClientRect().width);
}

/** How many rows the terminal in `selector` has. */
export function terminalRowCount(tab: Page, selector: string): Promise<number> {
	return tab.locator(`${selector} .xterm-rows > div`).count();
}
