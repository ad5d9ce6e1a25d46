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
	if (configured) return executable(configured) ? configured : undefined;
	return knownPaths.find(executable);
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
 * is there and the run may (root, apt-get). Undefined when none can be had;
 * `CHROMIUM_PATH` names one explicitly.
 */
export function provideChromium(): string | undefined {
	const found = installedChromium();
	if (found || process.env.CHROMIUM_PATH || !canInstallWithApt()) return found;
	console.log("browser tests: installing Debian's chromium (once per machine)");
	installWithApt();
	return installedChromium();
}
