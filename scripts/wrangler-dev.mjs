// Starts `wrangler dev` as a child process and waits until it serves a health path.
// Used by `npm run dev`, the end-to-end tests and the benchmarks.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateJweKeySet } from "./jwe-keys.mjs";
import { groupListensOn } from "./port-owner.mjs";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
/** The Worker, and the one serving its static bundles (through its STATIC binding); the first listens. */
const projectConfigs = ["wrangler.toml", "wrangler.static.toml"];

/**
 * Writes an env file for `startWranglerDev` into `dir`: `adminToken` and a
 * fresh one-key JWE_PRIVATE_KEYS. Returns its path.
 */
export async function writeSecretsFile(dir, adminToken) {
	const envFile = join(dir, ".env");
	await writeFile(
		envFile,
		`ADMIN_TOKEN=${adminToken}\nJWE_PRIVATE_KEYS='${await generateJweKeySet(1)}'\n`,
	);
	return envFile;
}

/**
 * A TCP port that was free a moment ago on loopback. Another process may take
 * it before it is used: `startWranglerDev` picks its own and copes with that.
 */
export function freePort() {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

/**
 * Runs wrangler dev on `port`, or on a port it picks (`pickPort`, by default
 * `freePort`) when none is given. `envFile` supplies secrets, `persistTo` the
 * local state folder, `config` another wrangler.toml (by default the
 * project's Worker with the Worker of its static bundles), `publicOrigin` the
 * origin channel URLs are built on (its own address unless given). Resolves
 * once `healthPath` answers; `stop()` ends it.
 *
 * wrangler cannot be given port 0, as channel URLs carry the port, so a
 * port is picked first; another process (a parallel test run's wrangler)
 * can take it before wrangler binds it. wrangler then exits with "Address
 * already in use" and the start is retried on a newly picked port; until it
 * exits the port answers for its taker, so a start counts only once
 * wrangler's own process group listens there. A port given by the caller is
 * not retried. wrangler's own ports (inspector, internal sockets) can clash
 * between two starts too: retried.
 */
export async function startWranglerDev({ pickPort = freePort, ...options }) {
	for (let attempt = 1; ; attempt++) {
		const port = options.port ?? (await pickPort());
		try {
			return await startOnce({ ...options, port });
		} catch (error) {
			const message = String(error?.message);
			const portClash = message.includes("Address already in use");
			// A port the caller gave stays taken: only a newly picked one can help.
			const givenPortTaken =
				options.port !== undefined &&
				message.includes(`Address already in use (127.0.0.1:${port})`);
			if (!portClash || givenPortTaken || attempt === 3) throw error;
		}
	}
}

async function startOnce({
	port,
	envFile,
	persistTo,
	config,
	inherit = false,
	timeoutMs = 90_000,
	healthPath = "/healthz",
	publicOrigin = `http://127.0.0.1:${port}`,
}) {
	const args = [
		"wrangler",
		"dev",
		"--port",
		String(port),
		"--ip",
		"127.0.0.1",
		"--show-interactive-dev-session=false",
		// Channel URLs are built on this, never on a request's Host header.
		"--var",
		`PUBLIC_ORIGIN:${publicOrigin}`,
	];
	for (const file of config ? [config] : projectConfigs) args.push("--config", file);
	if (envFile) args.push("--env-file", envFile);
	if (persistTo) args.push("--persist-to", persistTo);
	if (!inherit) args.push("--log-level", "warn");
	const child = spawn("npx", args, {
		cwd: projectRoot,
		stdio: inherit ? "inherit" : ["ignore", "pipe", "pipe"],
		env: {
			...process.env,
			WRANGLER_SEND_METRICS: "false",
			CI: process.env.CI ?? "true",
			// The Worker reads nothing of request.cf: no fetch of its sample from
			// workers.cloudflare.com at each start (and no stack traces when offline).
			CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
		},
		detached: process.platform !== "win32",
	});
	let output = "";
	child.stdout?.on("data", (chunk) => {
		output = (output + chunk).slice(-20_000);
	});
	child.stderr?.on("data", (chunk) => {
		output = (output + chunk).slice(-20_000);
	});
	const baseUrl = `http://127.0.0.1:${port}`;
	const stop = () =>
		new Promise((resolve) => {
			// Exited, by a code or by a signal.
			if (child.exitCode !== null || child.signalCode !== null) return resolve();
			child.once("exit", () => resolve());
			try {
				process.kill(-child.pid, "SIGTERM");
			} catch {
				child.kill("SIGTERM");
			}
		});
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (child.exitCode !== null)
			throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
		try {
			const response = await fetch(`${baseUrl}${healthPath}`);
			if (response.ok && (await groupListensOn(child.pid, port)))
				return { baseUrl, child, stop, output: () => output };
		} catch {
			// not listening yet
		}
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
	await stop();
	throw new Error(`wrangler dev did not become healthy within ${timeoutMs} ms:\n${output}`);
}
