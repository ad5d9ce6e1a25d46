// `npm run dev` (scripts/dev.mjs) as an operator runs it, as real processes:
// it refuses a busy port before starting anything; it stops everything it
// started (wrangler's own process group included) on SIGTERM, on a hang-up and
// when wrangler exits by itself; it is quiet until its banner and says goodbye
// in one line; its secrets file and state folder are owner-only.
// Every run gets its own port, secrets file (EDGEVISOR_DEV_VARS) and state
// folder (EDGEVISOR_DEV_DIR), so the developer's .dev.vars and .wrangler/ are
// not touched, and no real QEMU host (EDGEVISOR_DEMO_QEMU=0).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { generateJweKeySet } from "../../scripts/jwe-keys.mjs";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { freePort } from "../../scripts/wrangler-dev.mjs";
import { pollUntil } from "../support/poll";

const projectRoot = join(import.meta.dirname, "../..");
const devScript = join(projectRoot, "scripts", "dev.mjs");
const bannerEnd = /^ {2}export EDGEVISOR_URL=.*$/m;
const requestLogLine = /\b(GET|HEAD|PUT|POST|PATCH|DELETE) \/\S* \d{3}\b/;

interface Dev {
	port: number;
	dir: string;
	devVars: string;
	devVarsText: string;
	adminToken: string;
	child: ChildProcess;
	stdout: () => string;
	stderr: () => string;
	exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Dev[] = [];
/** Process groups of the wrangler runs we saw: killed after a failed test. */
const wranglerGroups = new Set<number>();

afterEach(async () => {
	for (const dev of started.splice(0)) {
		if (dev.child.exitCode === null && dev.child.signalCode === null)
			signalGroup(dev.child, "SIGKILL");
		await rm(dev.dir, { recursive: true, force: true });
	}
	for (const pgid of wranglerGroups) {
		try {
			process.kill(-pgid, "SIGKILL");
		} catch {
			// Gone, as it should be.
		}
	}
	wranglerGroups.clear();
});

/**
 * Runs dev.mjs in its own process group (as a terminal's job would be) with
 * a secrets file and a state folder that exist already, world-readable, as
 * an earlier version left them.
 */
async function startDev(port: number, args: string[] = []): Promise<Dev> {
	const dir = await mkdtemp(join(tmpdir(), "edgevisor-dev-"));
	const devVars = join(dir, ".dev.vars");
	const adminToken = `dev-${crypto.randomUUID()}`;
	const devVarsText = `ADMIN_TOKEN=${adminToken}\nJWE_PRIVATE_KEYS='${await generateJweKeySet(1)}'\n`;
	await writeFile(devVars, devVarsText);
	await chmod(devVars, 0o644);
	await mkdir(join(dir, "local", "state"), { recursive: true, mode: 0o755 });
	const child = spawn(process.execPath, [devScript, ...args], {
		cwd: projectRoot,
		env: {
			...process.env,
			PORT: String(port),
			EDGEVISOR_DEV_VARS: devVars,
			EDGEVISOR_DEV_DIR: join(dir, "local"),
			EDGEVISOR_DEMO_QEMU: "0",
			EDGEVISOR_VERBOSE: undefined,
			WRANGLER_LOG: undefined,
		},
		stdio: ["ignore", "pipe", "pipe"],
		detached: true,
	});
	let stdout = "";
	let stderr = "";
	child.stdout?.on("data", (chunk) => {
		stdout += chunk;
	});
	child.stderr?.on("data", (chunk) => {
		stderr += chunk;
	});
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
		child.once("exit", (code, signal) => resolve({ code, signal })),
	);
	const dev = {
		port,
		dir,
		devVars,
		devVarsText,
		adminToken,
		child,
		stdout: () => stdout,
		stderr: () => stderr,
		exited,
	};
	started.push(dev);
	return dev;
}

/** Polls `check` until it returns something truthy; fails (and polls no more) after `timeoutMs`. */
function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs: number) {
	return pollUntil(check, Boolean, { timeoutMs, what, intervalMs: 100 });
}

/** Waits for the banner; fails early with dev's output if it exits instead. */
async function waitForBanner(dev: Dev) {
	await waitFor(
		"the banner",
		() => {
			if (dev.child.exitCode !== null)
				throw new Error(`dev exited (${dev.child.exitCode}):\n${dev.stdout()}\n${dev.stderr()}`);
			return bannerEnd.test(dev.stdout());
		},
		150_000,
	);
}

/** How dev exited; fails if it has not within `timeoutMs`. */
function exitOf(dev: Dev, timeoutMs = 30_000) {
	const timeout = delay(timeoutMs, undefined, { ref: false }).then(() => {
		throw new Error(`dev did not exit within ${timeoutMs} ms`);
	});
	return Promise.race([dev.exited, timeout]);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
	try {
		process.kill(-(child.pid as number), signal);
	} catch {
		// Already gone.
	}
}

type Proc = { pid: number; ppid: number; pgid: number; args: string };

/** Live (not zombie) processes. */
async function processes(): Promise<Proc[]> {
	const { stdout } = await promisify(execFile)("ps", ["-e", "-o", "pid=,ppid=,pgid=,stat=,args="]);
	return stdout.split("\n").flatMap((line) => {
		const match = line.trim().match(/^(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/);
		if (!match || match[4]?.startsWith("Z")) return [];
		return [
			{
				pid: Number(match[1]),
				ppid: Number(match[2]),
				pgid: Number(match[3]),
				args: match[5] ?? "",
			},
		];
	});
}

/** Every live process below `pid`. */
async function descendants(pid: number): Promise<Proc[]> {
	const all = await processes();
	const found: Proc[] = [];
	const parents = [pid];
	for (let parent = parents.pop(); parent !== undefined; parent = parents.pop()) {
		for (const proc of all.filter((candidate) => candidate.ppid === parent)) {
			found.push(proc);
			parents.push(proc.pid);
		}
	}
	return found;
}

/** Whether nothing listens on `port` at 127.0.0.1 (tried by listening, as dev.mjs does). */
function portFree(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const probe = createServer();
		probe.once("error", () => resolve(false));
		probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
	});
}

/** Starts dev and returns what it started below itself: wrangler's group with workerd in it. */
async function startedDev(args: string[] = []) {
	const dev = await devOnAFreePort(args);
	const below = await descendants(dev.child.pid as number);
	for (const proc of below) wranglerGroups.add(proc.pgid);
	expect(below.some((proc) => proc.args.includes("workerd"))).toBe(true);
	expect(below.some((proc) => proc.pgid !== dev.child.pid)).toBe(true);
	return { dev, below };
}

/**
 * Starts dev on a picked port and waits for its banner. The port can be taken
 * before dev or its wrangler listens (by a parallel test run): dev then
 * refuses it, and another one is picked.
 */
async function devOnAFreePort(args: string[], attempts = 3): Promise<Dev> {
	const dev = await startDev(await freePort(), args);
	try {
		await waitForBanner(dev);
		return dev;
	} catch (error) {
		const portTaken = /port \d+ is in use|Address already in use/.test(dev.stderr());
		if (!portTaken || attempts === 1) throw error;
		return devOnAFreePort(args, attempts - 1);
	}
}

/** After dev exited: its port is free and nothing it started is left (it waits for that). */
async function expectAllStopped(dev: Dev, below: Proc[]) {
	expect(await portFree(dev.port)).toBe(true);
	const pids = new Set(below.map((proc) => proc.pid));
	expect((await processes()).filter((proc) => pids.has(proc.pid))).toEqual([]);
}

describe("npm run dev", () => {
	it("refuses a busy port in one line, before starting anything", async () => {
		let connections = 0;
		const holder = createServer((socket) => {
			connections++;
			socket.destroy();
		});
		await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
		const { port } = holder.address() as AddressInfo;
		try {
			const dev = await startDev(port);
			const { code } = await exitOf(dev);
			expect(code).not.toBe(0);
			const lines = dev.stderr().trimEnd().split("\n");
			expect(lines).toHaveLength(1);
			expect(lines[0]).toContain(`port ${port} is in use`);
			expect(dev.stdout()).toBe("");
			// Checked by listening, first: nothing connected, seeded, spawned or even chmod-ed.
			expect(connections).toBe(0);
			expect((await processes()).filter((proc) => proc.args.includes(`--port ${port}`))).toEqual(
				[],
			);
			expect((await stat(dev.devVars)).mode & 0o777).toBe(0o644);
		} finally {
			await new Promise((resolve) => holder.close(resolve));
		}
	}, 60_000);

	it("is quiet until its banner, keeps secrets and state owner-only, and stops everything on SIGTERM to its process group", async () => {
		const { dev, below } = await startedDev();
		const [beforeBanner = ""] = dev.stdout().split(bannerEnd);
		expect(beforeBanner).not.toMatch(requestLogLine);
		expect(beforeBanner).not.toMatch(/^agent /m);
		expect(dev.stdout()).toContain(`Admin token    ${dev.adminToken}`);

		expect((await stat(dev.devVars)).mode & 0o777).toBe(0o600);
		expect(await readFile(dev.devVars, "utf8")).toBe(dev.devVarsText);
		for (const dir of ["local", "local/state"])
			expect((await stat(join(dev.dir, dir))).mode & 0o777).toBe(0o700);

		signalGroup(dev.child, "SIGTERM");
		// Once wrangler is going, a second signal (npm forwards a Ctrl-C the terminal sent
		// already) must not end dev half-way.
		await waitFor(
			"wrangler to be stopping",
			async () => {
				const live = new Set((await processes()).map((proc) => proc.pid));
				return below.some((proc) => !live.has(proc.pid));
			},
			30_000,
		);
		signalGroup(dev.child, "SIGTERM");
		expect(await exitOf(dev)).toEqual({ code: 0, signal: null });
		await expectAllStopped(dev, below);
		const output = `${dev.stdout()}${dev.stderr()}`;
		expect(output).not.toMatch(/reconnecting/);
		expect(dev.stdout().trimEnd().split("\n").at(-1)).toBe("Edgevisor stopped.");
		expect(output.match(/Edgevisor stopped\./g)).toHaveLength(1);
	}, 180_000);

	it("with --verbose logs requests, and stops everything on a hang-up (terminal closed)", async () => {
		const { dev, below } = await startedDev(["--verbose"]);
		expect(dev.stdout().split(bannerEnd)[0]).toMatch(requestLogLine);
		dev.child.kill("SIGHUP");
		expect(await exitOf(dev)).toEqual({ code: 0, signal: null });
		await expectAllStopped(dev, below);
		expect(`${dev.stdout()}${dev.stderr()}`).not.toMatch(/reconnecting/);
		expect(dev.stdout().trimEnd().split("\n").at(-1)).toBe("Edgevisor stopped.");
	}, 180_000);

	it("stops everything, in error, when wrangler exits by itself", async () => {
		const { dev, below } = await startedDev();
		// The group leader (npx) dies alone: wrangler and workerd below it would stay.
		const leader = below.find((proc) => proc.ppid === dev.child.pid);
		process.kill(leader?.pid as number, "SIGKILL");
		expect((await exitOf(dev)).code).toBe(1);
		await expectAllStopped(dev, below);
		expect(dev.stderr()).toMatch(/^wrangler dev exited unexpectedly \(SIGKILL\)$/m);
		expect(dev.stdout().trimEnd().split("\n").at(-1)).toBe("Edgevisor stopped.");
	}, 180_000);
});
