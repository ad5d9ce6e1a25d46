import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { buildTestGuest } from "../../../scripts/test-guest.mjs";
import { pollUntil } from "../../support/poll";
import { connectNode } from "../../support/ws-node";
import { admin, createHost, requestSession, type SeededHost } from "../agent-sim-support";

/**
 * Real QEMU hosts for end-to-end tests: each runs `edgevisor-agent qemu` as
 * its own process (so it can be killed and restarted while its VMs run on)
 * against the suite's `wrangler dev`, with a test guest built on the fly.
 * Every wait is bounded; nothing sleeps a fixed time.
 */

const baseUrl = inject("baseUrl");
const agentScript = join(import.meta.dirname, "../../../agent/edgevisor-agent.mjs");

/** Whether this machine can run the QEMU tests; in CI it must. */
export function qemuAvailable(): boolean {
	const found = spawnSync("qemu-system-x86_64", ["--version"]).status === 0;
	if (!found && process.env.CI)
		throw new Error("CI must have qemu-system-x86_64 (.ci/run installs it)");
	if (!found) console.warn("qemu-system-x86_64 not found: the QEMU host tests are skipped");
	return found;
}

/** The test guest: a Debian cloud kernel and a busybox initramfs (scripts/test-guest.mjs). */
export type TestGuest = { kernel: string; initrd: string; append: string };

export function testGuest(): Promise<TestGuest> {
	return buildTestGuest();
}

/** Resolves when `predicate` holds, polling every 50 ms; rejects (and polls no more) after `timeoutMs`. */
export function eventually<T>(
	probe: () => Promise<T> | T,
	predicate: (value: T) => boolean,
	timeoutMs: number,
	what: string,
): Promise<T> {
	return pollUntil(probe, predicate, { timeoutMs, what });
}

/** Pids of the QEMU processes running `vmId` on this machine (any host). */
export async function qemuPids(vmId: string): Promise<number[]> {
	const pids: number[] = [];
	for (const entry of await readdir("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const args = (await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0");
			const stat = await readFile(`/proc/${entry}/stat`, "utf8");
			const zombie = stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
			if (!zombie && args.includes(`guest=${vmId}`)) pids.push(Number(entry));
		} catch {
			// The process ended while we looked.
		}
	}
	return pids;
}

/** One QEMU host: its record, its directories, and its agent process. */
export interface QemuHost extends SeededHost {
	vmsDir: string;
	stateDir: string;
	checksDir: string;
	/** Everything the agent printed, in order. */
	output: string[];
	/** Resolves with the first output line (past or future) matching, within `timeoutMs`. */
	waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
	/** Writes `<vmId>.json` into the host's `--vms-dir`. */
	putVm(vmId: string, guest: TestGuest, memoryMiB?: number): Promise<void>;
	/** Ends the agent process (SIGTERM); its VMs run on. */
	stopAgent(): Promise<void>;
	/** Starts the agent process again. */
	startAgent(): void;
	/** Stops the agent and every VM it ran, and removes the host's directories. */
	dispose(): Promise<void>;
}

/** Creates a host in `domain` and starts `edgevisor-agent qemu` for it. */
export async function startQemuHost(
	domain: string,
	{ agentArgs = [] as string[], qemu }: { agentArgs?: string[]; qemu?: string } = {},
): Promise<QemuHost> {
	const host = await createHost(domain);
	const dir = await mkdtemp(join(tmpdir(), "edgevisor-qemu-"));
	const vmsDir = join(dir, "vms");
	const stateDir = join(dir, "state");
	const checksDir = join(dir, "checks");
	await Promise.all([vmsDir, stateDir, checksDir].map((path) => mkdir(path, { recursive: true })));
	const hostFile = join(dir, "host.json");
	await writeFile(hostFile, JSON.stringify(host), { mode: 0o600 });
	const output: string[] = [];
	const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
	let agent: ChildProcess | undefined;

	const startAgent = () => {
		const args = [
			agentScript,
			"qemu",
			"--url",
			baseUrl,
			"--host-file",
			hostFile,
			"--vms-dir",
			vmsDir,
			"--state-dir",
			stateDir,
			"--checks-dir",
			checksDir,
			"--shutdown-timeout",
			"1",
			...(qemu ? ["--qemu", qemu] : []),
			...agentArgs,
		];
		const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
		agent = child;
		let partial = "";
		const take = (chunk: Buffer) => {
			const lines = (partial + chunk.toString("utf8")).split("\n");
			partial = lines.pop() ?? "";
			for (const line of lines) {
				output.push(line);
				for (const waiter of waiters) {
					if (waiter.pattern.test(line)) {
						waiters.delete(waiter);
						waiter.resolve(line);
					}
				}
			}
		};
		child.stdout?.on("data", take);
		child.stderr?.on("data", take);
	};
	startAgent();

	const stopAgent = async () => {
		const child = agent;
		if (!child || child.exitCode !== null) return;
		const exited = new Promise((resolve) => child.once("exit", resolve));
		child.kill("SIGTERM");
		await exited;
	};

	const started: QemuHost = {
		...host,
		vmsDir,
		stateDir,
		checksDir,
		output,
		waitForLine(pattern, timeoutMs = 20_000) {
			const past = output.find((line) => pattern.test(line));
			if (past) return Promise.resolve(past);
			return new Promise((resolve, reject) => {
				const waiter = { pattern, resolve };
				waiters.add(waiter);
				setTimeout(() => {
					if (!waiters.delete(waiter)) return;
					reject(
						new Error(
							`agent of ${host.hostId} printed no ${pattern} within ${timeoutMs} ms:\n${output.join("\n")}`,
						),
					);
				}, timeoutMs);
			});
		},
		async putVm(vmId, guest, memoryMiB = 128) {
			const definition = {
				vmId,
				memoryMiB,
				vcpus: 1,
				kernel: guest.kernel,
				initrd: guest.initrd,
				append: guest.append,
			};
			await writeFile(join(vmsDir, `${vmId}.json`), JSON.stringify(definition));
		},
		stopAgent,
		startAgent,
		async dispose() {
			await stopAgent();
			// VMs outlive their agent by design: the test ends them itself.
			for (const vmDir of await readdir(join(stateDir, "vms")).catch(() => [])) {
				const pid = Number(
					await readFile(join(stateDir, "vms", vmDir, "qemu.pid"), "utf8").catch(() => "0"),
				);
				if (pid > 1) {
					try {
						process.kill(pid, "SIGKILL");
					} catch {}
				}
			}
			await rm(dir, { recursive: true, force: true });
		},
	};
	// Risk rules read the host's facts: ready once the agent's own (QEMU's) are applied.
	await eventually(
		() => admin<{ hypervisor: { name: string } }>("GET", `/v1/hosts/${host.hostId}`),
		({ body }) => body.hypervisor?.name === "qemu",
		20_000,
		`the facts of ${host.hostId}'s agent applied`,
	);
	return started;
}

/** Makes `path` an executable shell script. */
export async function writeScript(path: string, body: string): Promise<void> {
	await writeFile(path, `#!/bin/sh\n${body}\n`);
	await chmod(path, 0o755);
}

/** Enrols a VM in a host's SP table; returns its key. */
export async function enrol(hostId: string, vmId: string, memoryMiB = 128): Promise<string> {
	const { status, body } = await admin<{ key: string }>("PUT", `/v1/hosts/${hostId}/vms/${vmId}`, {
		memoryMiB,
		vcpus: 1,
	});
	if (status !== 201) throw new Error(`enrol ${vmId}: ${status}`);
	return body.key;
}

/** Terminal escapes (busybox ash asks for the cursor position after each prompt). */
const escapeSequence = new RegExp(`${String.fromCharCode(0x1b)}(\\[[0-9;?]*[A-Za-z]|c)`, "g");
const stripEscapes = (text: string) => text.replace(escapeSequence, "");

/** A user's console session on a VM, as `edgevisor connect` opens it. */
export async function openConsole(domain: string, vmId: string, key: string) {
	const { status, body } = await requestSession(domain, vmId, key);
	if (status !== 201) throw new Error(`session request: ${status} ${JSON.stringify(body)}`);
	const socket = await connectNode(body.userChannel.url);
	let screen = "";
	let closedBecause: string | undefined;
	const waiters = new Set<() => void>();
	void socket.closed.then(({ code, reason }) => {
		closedBecause = `${code} ${reason}`;
		for (const waiter of waiters) waiter();
	});
	socket.socket.on("message", (data) => {
		const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
		screen += stripEscapes(bytes.toString("utf8"));
		for (const waiter of waiters) waiter();
	});
	return {
		sessionId: body.sessionId,
		socket,
		/** Types a line into the guest's shell. */
		type(line: string) {
			socket.send(`${line}\n`);
		},
		/** Resolves with the screen once it matches `pattern` after `from`, within `timeoutMs`. */
		waitFor(pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<string> {
			const matches = () => pattern.test(screen.slice(from));
			if (matches()) return Promise.resolve(screen);
			return new Promise((resolve, reject) => {
				const check = () => {
					if (!matches() && closedBecause === undefined) return;
					waiters.delete(check);
					clearTimeout(timer);
					if (matches()) resolve(screen);
					else
						reject(
							new Error(
								`console closed (${closedBecause}) before ${pattern}; it shows:\n${screen.slice(-500)}`,
							),
						);
				};
				const timer = setTimeout(() => {
					waiters.delete(check);
					reject(
						new Error(
							`console showed no ${pattern} within ${timeoutMs} ms; it shows:\n${screen.slice(-500)}`,
						),
					);
				}, timeoutMs);
				waiters.add(check);
			});
		},
		/**
		 * Waits for the shell's prompt, pressing Enter every 3 s as a person at a
		 * silent serial console would (a prompt printed before the console was
		 * held is not on the screen), within `timeoutMs`.
		 */
		async waitForPrompt(timeoutMs = 30_000): Promise<void> {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const from = screen.length;
				try {
					await this.waitFor(/guest# $/, Math.min(3_000, Math.max(1, deadline - Date.now())));
					return;
				} catch (error) {
					if (Date.now() >= deadline || closedBecause !== undefined) throw error;
					if (screen.length === from) socket.send("\n");
				}
			}
		},
		/** How much the screen holds now (to wait only for what comes after). */
		get length() {
			return screen.length;
		},
		close() {
			socket.close();
		},
	};
}
