// Proves the QEMU agent's pure parts and its guards against hostile input,
// in plain Node: /proc and `--version` parsing, when facts are worth a
// webhook, progress from `query-migrate`, the listen address, the schema a
// VM definition and a migration address must pass (every field crosses the
// network to an agent running as root), the command log on disk, the host
// file's permissions, and refused console channels. Real QEMU runs in
// qemu-agent.test.ts.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { createCommandLog } from "../../agent/command-log.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { onControlPlane } from "../../agent/host-agent.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { filesystemOf } from "../../agent/qemu/checks.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import * as facts from "../../agent/qemu/facts.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { listenUri, progressOf } from "../../agent/qemu/migration.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { measureThroughput, startProbeSink } from "../../agent/qemu/probe.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { readHostFile } from "../../agent/qemu-agent.mjs";
import { MigrationAddress, VmDefinition } from "../../shared/schemas/agent";

const dir = await mkdtemp(join(tmpdir(), "edgevisor-parts-"));
afterAll(async () => {
	await rm(dir, { recursive: true, force: true });
});

const { factsChanged, parseCpuInfo, parseMemInfo, parseQemuVersion } = facts;

describe("host facts", () => {
	it("reads the first processor's model and flags, and memory in MiB", () => {
		const cpuinfo =
			"processor\t: 0\nmodel name\t: AMD EPYC 7B13 64-Core Processor\nflags\t\t: fpu sse2 avx2 avx2\n\nprocessor\t: 1\nmodel name\t: other\n";
		expect(parseCpuInfo(cpuinfo)).toEqual({
			model: "AMD EPYC 7B13 64-Core Processor",
			flags: ["fpu", "sse2", "avx2"],
		});
		expect(
			parseMemInfo("MemTotal:       24576000 kB\nMemFree: 1 kB\nMemAvailable:   12288000 kB\n"),
		).toEqual({
			memoryMiB: 24000,
			memoryFreeMiB: 12000,
		});
		expect(parseQemuVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\n")).toBe(
			"7.2.22",
		);
	});

	it("reports free memory only when it moved by 5 % of the host", () => {
		const facts = {
			cpu: { model: "m", flags: [] },
			memoryMiB: 1000,
			memoryFreeMiB: 500,
			hypervisor: { name: "qemu", version: "7.2.22" },
		};
		expect(factsChanged(undefined, facts)).toBe(true);
		expect(factsChanged(facts, { ...facts, memoryFreeMiB: 549 })).toBe(false);
		expect(factsChanged(facts, { ...facts, memoryFreeMiB: 550 })).toBe(true);
		expect(factsChanged(facts, { ...facts, hypervisor: { name: "qemu", version: "9.2.0" } })).toBe(
			true,
		);
	});
});

describe("where a disk lives", () => {
	it("is the filesystem of the longest mount point holding the path", () => {
		const mounts =
			"/dev/sda1 / ext4 rw 0 0\nnas:/vol /srv/images nfs4 rw 0 0\ntmpfs /srv/images/tmp tmpfs rw 0 0\n";
		expect(filesystemOf(mounts, "/srv/images/vm-1.qcow2")).toBe("nfs4");
		expect(filesystemOf(mounts, "/srv/images/tmp/x.raw")).toBe("tmpfs");
		expect(filesystemOf(mounts, "/srv/imagesX/x.raw")).toBe("ext4");
	});
});

describe("migration progress", () => {
	it("is memory copied out of all, below 100 until QEMU says completed, named by pass", () => {
		expect(
			progressOf({ status: "active", ram: { total: 1000, remaining: 250, "dirty-sync-count": 2 } }),
		).toEqual({
			percent: 75,
			phase: "copying, pass 2",
		});
		expect(progressOf({ status: "active", ram: { total: 1000, remaining: 0 } }).percent).toBe(99);
		expect(progressOf({ status: "setup" })).toEqual({ percent: 0, phase: "setup" });
	});

	it("listens where --migration-address says, on any free port unless it names one", () => {
		expect(listenUri("10.0.0.7")).toEqual({ host: "10.0.0.7", uri: "tcp:10.0.0.7:0" });
		expect(listenUri("[fd00::7]:49152")).toEqual({ host: "[fd00::7]", uri: "tcp:[fd00::7]:49152" });
		expect(() => listenUri("exec:sh")).toThrow(/HOST or HOST:PORT/);
	});
});

describe("what crosses the network to an agent", () => {
	it("a migration address is tcp:HOST:PORT and nothing QEMU would run or open locally", () => {
		fc.assert(
			fc.property(fc.domain(), fc.integer({ min: 1, max: 65_535 }), (host, port) => {
				expect(MigrationAddress.safeParse(`tcp:${host}:${port}`).success).toBe(true);
			}),
		);
		for (const hostile of [
			"exec:sh -c 'id'",
			"unix:/run/x.sock",
			"tcp:h:0",
			"tcp:h:65536",
			"tcp:h:1,x",
			"fd:3",
			"tcp:h:22 exec:x",
		]) {
			expect(MigrationAddress.safeParse(hostile).success, hostile).toBe(false);
		}
	});

	it("a VM definition has absolute paths without commas, bounded sizes and no extra fields", () => {
		const good = {
			vmId: "vm-1",
			memoryMiB: 256,
			vcpus: 1,
			kernel: "/boot/vmlinuz",
			disks: [{ path: "/srv/vm-1.raw" }],
		};
		expect(VmDefinition.safeParse(good).success).toBe(true);
		for (const bad of [
			{ ...good, kernel: "vmlinuz" },
			{ ...good, kernel: "/boot/vmlinuz,if=none" },
			{ ...good, disks: [{ path: "/srv/a,file.locking=off" }] },
			{ ...good, memoryMiB: 0 },
			{ ...good, vmId: "../etc" },
			{ ...good, append: "console=ttyS0\n-monitor stdio" },
			{ ...good, qemuArgs: ["-monitor", "stdio"] },
		]) {
			expect(VmDefinition.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
		}
	});
});

describe("the migration path probe", () => {
	it("measures what a sink counts, and fails where nothing listens", async () => {
		const sink = await startProbeSink("127.0.0.1");
		try {
			expect(sink.address).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
			expect(await measureThroughput(sink.address)).toBeGreaterThan(10);
		} finally {
			sink.close();
		}
		await expect(measureThroughput(sink.address)).rejects.toThrow(/ECONNREFUSED/);
	});
});

describe("where the agent dials", () => {
	it("only VM channels on its own control plane's origin", () => {
		const control = new URL("wss://edgevisor.example.com/v1/hosts/h/agent");
		const on = (url: string) => onControlPlane(new URL(url), control);
		expect(on("wss://edgevisor.example.com/v1/sessions/h~1/vm?token=t")).toBe(true);
		expect(on("wss://127.0.0.1:4444/v1/sessions/h~1/vm?token=t")).toBe(false);
		expect(on("ws://edgevisor.example.com/v1/sessions/h~1/vm?token=t")).toBe(false);
		expect(on("wss://edgevisor.example.com:8443/v1/sessions/h~1/vm?token=t")).toBe(false);
		expect(on("wss://edgevisor.example.com.evil.test/v1/sessions/h~1/vm?token=t")).toBe(false);
	});
});

describe("the command log", () => {
	it("remembers carried-out ids across a restart, and only on disk when given a path", () => {
		const path = join(dir, "ids");
		const log = createCommandLog(path);
		expect(log.add("a")).toBe(true);
		expect(log.add("a")).toBe(false);
		expect(createCommandLog(path).add("a")).toBe(false);
		expect(createCommandLog().add("a")).toBe(true);
	});
});

describe("the host file", () => {
	it("is refused when others can read it, naming the fix", async () => {
		const path = join(dir, "host.json");
		await writeFile(
			path,
			JSON.stringify({ hostId: "h", domain: "d", agentToken: "t", webhookSecret: "whsec_x" }),
		);
		await chmod(path, 0o644);
		await expect(readHostFile(path)).rejects.toThrow(/readable by others \(mode 644\).*chmod 600/);
		await chmod(path, 0o600);
		await expect(readHostFile(path)).resolves.toEqual({
			hostId: "h",
			agentToken: "t",
			webhookSecret: "whsec_x",
		});
	});
});
