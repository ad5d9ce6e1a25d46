// Finds the Chromium the browser tests drive. playwright-core downloads no
// browser (and this project's machines reach no download host), so it is
// Debian's package: installed here on first use where the run is root with
// apt-get, so `npm test` on a fresh machine runs the whole suite.
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

/** Where Debian (and most distributions) put a Chromium or Chrome. */
const knownPaths = [
	"/usr/bin/chromium",
	"/usr/bin/chromium-browser",
	"/usr/bin/google-chrome",
	"/usr/bin/google-chrome-stable",
];

function executable(path: string): boolean {
	try {
		accessSync(path, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

function installedChromium(): string | undefined {
	const configured = process.env.CHROMIUM_PATH;
	if (!configured) return knownPaths.find(executable);
	// A path named on purpose that does not run is a mistake to report, not to skip.
	if (!executable(configured)) throw new Error(`CHROMIUM_PATH=${configured} is not executable`);
	return configured;
}

function canInstallWithApt(): boolean {
	return process.getuid?.() === 0 && executable("/usr/bin/apt-get");
}

function installWithApt(): void {
	const options = {
		stdio: "inherit",
		env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
	} as const;
	execFileSync("apt-get", ["update", "-qq"], options);
	execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], options);
}

/**
 * The path of a Chromium to drive, installing Debian's `chromium` when none
 * is there and the run may (root, apt-get). Undefined when none can be had
 * (an install that fails says why); `CHROMIUM_PATH` names one explicitly.
 */
export function provideChromium(): string | undefined {
	const found = installedChromium();
	if (found || !canInstallWithApt()) return found;
	console.log("browser tests: installing Debian's chromium (once per machine)");
	try {
		installWithApt();
	} catch (error) {
		console.warn(`browser tests: installing chromium failed: ${String(error)}`);
		return undefined;
	}
	return installedChromium();
}
