// Proves the QEMU host agent against real QEMU guests under TCG and the real
// `wrangler dev`: a guest boots from --vms-dir and its serial console answers
// through the edge; facts are the machine's own; a live migration keeps the
// guest's state and leaves one QEMU; cancel mid-copy and a target that cannot
// start QEMU leave the VM where it was; a restarted agent takes its running
// VMs over; operator checks pass, fail and time out; a removed file stops its
// VM. The guests are quiet while they move (QEMU 7.2's TCG migration can
// corrupt a guest writing memory hard). Redelivery dedupe across a restart is
// proven in agent-restart.test.ts.
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MigrationPolicy, MigrationRecord } from "../../shared/schemas/migrations";
import { admin, uniqueId } from "./agent-sim-support";
import {
	enrol,
	eventually,
	openConsole,
	type QemuHost,
	qemuAvailable,
	qemuPids,
	startQemuHost,
	type TestGuest,
	testGuest,
	writeScript,
} from "./support/qemu-host";

async function migration(migrationId: string): Promise<MigrationRecord> {
	const { status, body } = await admin<MigrationRecord>("GET", `/v1/migrations/${migrationId}`);
	if (status !== 200) throw new Error(`GET migration: ${status}`);
	return body;
}

async function migrate(vmId: string, targetHostId: string): Promise<MigrationRecord> {
	const { status, body } = await admin<MigrationRecord>("POST", "/v1/migrations", {
		vmId,
		targetHostId,
	});
	if (status !== 201) throw new Error(`POST migration: ${status} ${JSON.stringify(body)}`);
	return body;
}

/** Starts a migration and resolves once QEMU copies (the target listens, memory moves). */
async function copyUnderWay(vmId: string, targetHostId: string): Promise<MigrationRecord> {
	const record = await migrate(vmId, targetHostId);
	return eventually(
		() => migration(record.migrationId),
		(current) => current.targetAddress !== undefined && current.progress.percent > 0,
		30_000,
		"a copy under way",
	);
}

/** Resolves once exactly one QEMU runs the VM, anywhere on this machine. */
function oneQemu(vmId: string): Promise<number[]> {
	return eventually(
		() => qemuPids(vmId),
		(pids) => pids.length === 1,
		10_000,
		"one QEMU",
	);
}

/** Resolves with the record once the agent's report settles a cancel as `stopped`. */
function stoppedByCancel(migrationId: string, what: string): Promise<MigrationRecord> {
	return eventually(
		() => migration(migrationId),
		(current) => current.cancellation?.outcome === "stopped",
		20_000,
		what,
	);
}

/** Where the VM's file is: the hosts whose --vms-dir holds it. */
async function filedOn(vmId: string, hosts: QemuHost[]): Promise<string[]> {
	const holders = await Promise.all(
		hosts.map((host) =>
			stat(join(host.vmsDir, `${vmId}.json`)).then(
				() => host.hostId,
				() => undefined,
			),
		),
	);
	return holders.filter((hostId): hostId is string => hostId !== undefined);
}

describe.skipIf(!qemuAvailable())("the QEMU host agent", () => {
	let guest: TestGuest;
	let a: QemuHost;
	let b: QemuHost;
	const domain = uniqueId("qemu-d");
	const vmId = uniqueId("qvm");
	let key: string;
	const hosts: QemuHost[] = [];

	beforeAll(async () => {
		guest = await testGuest();
		// B copies slowly (1 MiB/s), so a migration from B can be cancelled mid-copy.
		[a, b] = await Promise.all([
			startQemuHost(domain),
			startQemuHost(domain, { agentArgs: ["--migration-bandwidth", "1"] }),
		]);
		hosts.push(a, b);
		key = await enrol(a.hostId, vmId);
	}, 120_000);

	afterAll(async () => {
		await Promise.all(hosts.map((host) => host.dispose()));
	});

	it("boots a VM from --vms-dir, logs a malformed file once, and the console answers through the edge", async () => {
		await writeFile(join(a.vmsDir, "broken.json"), "{ not json");
		await a.putVm(vmId, guest);
		await a.waitForLine(/broken\.json: not JSON; VM not started/);
		await a.waitForLine(new RegExp(`VM ${vmId} started`));
		const console = await openConsole(domain, vmId, key);
		await console.waitForPrompt().catch((error) => {
			throw new Error(`${error.message}\nagent:\n${a.output.join("\n")}`);
		});
		console.type("echo $((6*7))");
		await console.waitFor(/\r?\n42\r?\n/);
		console.close();
		expect(a.output.filter((line) => line.includes("broken.json"))).toHaveLength(1);
		await rm(join(a.vmsDir, "broken.json"));
	});

	it("reports the machine's own facts", async () => {
		const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
		const meminfo = await readFile("/proc/meminfo", "utf8");
		const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim();
		const memTotalKiB = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1]);
		const { body } = await admin<{
			cpu: { model: string; flags: string[] };
			memoryMiB: number;
			hypervisor: { name: string; version: string };
			facts: { memoryFreeMiB: number };
		}>("GET", `/v1/hosts/${a.hostId}`);
		expect(body.cpu.model).toBe(model);
		expect(body.cpu.flags).toContain("sse2");
		expect(body.memoryMiB).toBe(Math.floor(memTotalKiB / 1024));
		expect(body.hypervisor.name).toBe("qemu");
		expect(body.hypervisor.version).toMatch(/^\d+\.\d+/);
		expect(body.facts.memoryFreeMiB).toBeGreaterThan(0);
	});

	it("live-migrates the VM under an open console: its shell state survives on the same WebSocket, its file moves, one QEMU remains, QEMU's stats are recorded", async () => {
		const before = await openConsole(domain, vmId, key);
		await before.waitForPrompt();
		before.type("MARK=moved-$((40+2))");
		before.type("echo set-$MARK");
		await before.waitFor(/set-moved-42/);
		const record = await migrate(vmId, b.hostId);
		expect(
			record.state,
			JSON.stringify(record.validationSets.filter((set) => set.status !== "skipped")),
		).toBe("migrating");
		const done = await eventually(
			() => migration(record.migrationId),
			(current) => current.state !== "migrating" && current.stats !== undefined,
			60_000,
			"a completed migration with stats",
		);
		expect(done.state).toBe("completed");
		expect(done.stats?.transferredBytes).toBeGreaterThan(0);
		expect(done.stats?.totalTimeMs).toBeGreaterThan(0);
		expect(done.targetAddress).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
		expect(await filedOn(vmId, hosts)).toEqual([b.hostId]);
		await oneQemu(vmId);
		// The same WebSocket: the session survived the move, and the guest answers from host B.
		const mark = before.length;
		before.type("echo still-$MARK");
		await before.waitFor(/still-moved-42/, 15_000, mark);
		const { body: session } = await admin<{ state: string; hostId: string; vmHostId: string }>(
			"GET",
			`/v1/sessions/${before.sessionId}`,
		);
		expect(session).toMatchObject({ state: "established", hostId: a.hostId, vmHostId: b.hostId });
		before.close();
	});

	it("cancelled mid-copy, the VM stays on the source and the target's incoming QEMU is gone", async () => {
		const record = await copyUnderWay(vmId, a.hostId);
		expect(await qemuPids(vmId)).toHaveLength(2);
		const { status } = await admin("POST", `/v1/migrations/${record.migrationId}/cancel`);
		expect(status).toBe(200);
		const cancelled = await stoppedByCancel(
			record.migrationId,
			"the source's word that the copy stopped",
		);
		expect(cancelled.cancellation?.detail, JSON.stringify(cancelled)).toMatch(
			/cancelled on request/,
		);
		await oneQemu(vmId);
		expect(await filedOn(vmId, hosts)).toEqual([b.hostId]);
		const console = await openConsole(domain, vmId, key);
		console.type("echo alive-$MARK");
		await console.waitFor(/alive-moved-42/);
		console.close();
	});

	it("a target that cannot start QEMU fails the migration with the reason; the VM runs on", async () => {
		const failingQemu = join(b.checksDir, "..", "failing-qemu");
		await writeScript(
			failingQemu,
			'[ "$1" = --version ] && exec qemu-system-x86_64 --version\necho "qemu-system-x86_64: simulated: cannot allocate guest memory" >&2\nexit 1',
		);
		const c = await startQemuHost(domain, { qemu: failingQemu });
		hosts.push(c);
		await c.waitForLine(/agent of .* against/);
		const record = await migrate(vmId, c.hostId);
		const failed = await eventually(
			() => migration(record.migrationId),
			(current) => current.state === "failed",
			30_000,
			"a failed migration",
		);
		expect(failed.failure?.stage, JSON.stringify(failed)).toBe("migration");
		expect(failed.failure?.reason).toMatch(
			/could not start QEMU.*simulated: cannot allocate guest memory/,
		);
		expect(await qemuPids(vmId)).toHaveLength(1);
		expect(await filedOn(vmId, hosts)).toEqual([b.hostId]);
	});

	it("an agent restart leaves its VMs running, and the restarted agent takes them over", async () => {
		const [pid] = await qemuPids(vmId);
		await b.stopAgent();
		expect(await qemuPids(vmId)).toEqual([pid]);
		b.startAgent();
		await b.waitForLine(new RegExp(`took over VM ${vmId} \\(pid ${pid}\\)`));
		const console = await openConsole(domain, vmId, key);
		console.type("echo again-$MARK");
		await console.waitFor(/again-moved-42/);
		console.close();
	});

	it("an agent restarted mid-copy follows the copy: a cancel after the restart stops it, and the VM stays", async () => {
		const record = await copyUnderWay(vmId, a.hostId);
		await b.stopAgent();
		b.startAgent();
		await b.waitForLine(
			new RegExp(`took over VM ${vmId} \\(pid \\d+\\) and its migration ${record.migrationId}`),
		);
		expect(await qemuPids(vmId)).toHaveLength(2);
		expect((await admin("POST", `/v1/migrations/${record.migrationId}/cancel`)).status).toBe(200);
		const cancelled = await stoppedByCancel(
			record.migrationId,
			"the restarted agent's word that the copy stopped",
		);
		expect(cancelled.cancellation?.detail).toMatch(/cancelled on request/);
		await oneQemu(vmId);
		expect(await filedOn(vmId, hosts)).toEqual([b.hostId]);
	});

	it("runs operator checks from --checks-dir: pass, fail with the last line, killed at the timeout; an unknown id fails naming itself", async () => {
		await writeScript(
			join(b.checksDir, "disks-ok"),
			'echo "checking $EDGEVISOR_VM_ID"\necho "2 disks readable"',
		);
		await writeScript(join(b.checksDir, "gate"), 'sleep 1\necho "gate closed"\nexit 1');
		await writeScript(join(b.checksDir, "late-gate"), 'sleep 6\necho "gate closed"\nexit 1');
		await writeScript(
			join(b.checksDir, "link-down"),
			'echo "probing"\necho "bond0 has no carrier" >&2\nexit 3',
		);
		await writeScript(join(b.checksDir, "hangs"), "sleep 60");
		const { body: saved } = await admin<MigrationPolicy>("GET", "/v1/migration-policy");
		// The first failure ends a migration's validation, so each run holds one failing check.
		const runs: Array<{ checks: string[]; expected: Record<string, [string, RegExp]> }> = [
			{
				checks: ["disks-ok", "gate"],
				expected: {
					"disks-ok": ["passed", /^2 disks readable$/],
					gate: ["failed", /^gate closed$/],
				},
			},
			{ checks: ["link-down"], expected: { "link-down": ["failed", /^bond0 has no carrier$/] } },
			{ checks: ["hangs"], expected: { hangs: ["failed", /^hangs: killed after 2\.7 s$/] } },
			{ checks: ["nowhere"], expected: { nowhere: ["failed", /^nowhere: no such check/] } },
			{
				// A measurement whose verdict follows the numbers (below half of B's 1 MiB/s cap
				// passes); alone with the gate, since a failure here would end the others' run.
				checks: ["dirty-page-rate", "late-gate"],
				expected: {
					"dirty-page-rate": [
						"measured",
						/^guest dirties \d+ MiB\/s against 1 MiB\/s of migration bandwidth: pre-copy (converges|may not converge)$/,
					],
				},
			},
			{
				// Built-in checks measure: on the target (runsOn) its QEMU, on the source the guest.
				checks: [
					"machine-type",
					"guest-cpu-baseline",
					"host-health",
					"capacity-probe",
					"tunables-sanity",
					"vf-quiesce",
					"storage-paths",
					"vlan-presence",
					"network-bandwidth",
					"migration-bandwidth",
					"late-gate",
				],
				expected: {
					"machine-type": ["passed", /^QEMU here offers machine type pc/],
					"guest-cpu-baseline": ["passed", /^CPU model qemu64 is fully available here \(tcg\)$/],
					"host-health": ["passed", /^agent connected, QEMU starts, load/],
					"vf-quiesce": ["passed", /^no passthrough functions/],
					"capacity-probe": ["passed", /^\d+ MiB available for 128 MiB, \d+ cores for 1 vCPUs$/],
					"tunables-sanity": ["passed", /^vm\.overcommit_memory=\d, vm\.max_map_count=\d+$/],
					"storage-paths": ["passed", /^the VM has no disks/],
					"vlan-presence": ["passed", /^the VM has no network interfaces/],
					"network-bandwidth": [
						"passed",
						/^the migration path to the target \(tcp:127\.0\.0\.1:\d+\) carries \d+ MiB\/s$/,
					],
					"migration-bandwidth": [
						"passed",
						/^copying 128 MiB at 1 MiB\/s \(path \d+ MiB\/s, cap 1\) takes about 128\.0 s$/,
					],
				},
			},
		];
		const onTarget = new Set([
			"machine-type",
			"guest-cpu-baseline",
			"host-health",
			"capacity-probe",
			"tunables-sanity",
		]);
		try {
			for (const { checks, expected } of runs) {
				const subtasks = checks.map((id) => ({
					id,
					kind: "agent",
					timeoutSeconds: id === "hangs" ? 3 : 20,
					...(onTarget.has(id) ? { runsOn: "target" } : {}),
				}));
				const policy = {
					rules: [{ id: "always", score: "100", threshold: 50, validationSet: "operator" }],
					validationSets: [{ id: "operator", subtasks }],
				};
				expect((await admin("PUT", "/v1/migration-policy", policy)).status).toBe(200);
				const record = await migrate(vmId, a.hostId);
				const ended = await eventually(
					() => migration(record.migrationId),
					(current) => current.state === "failed",
					30_000,
					"validation to fail",
				);
				for (const [id, [status, detail]] of Object.entries(expected)) {
					const subtask = ended.validationSets[0]?.subtasks.find((one) => one.id === id);
					expect(subtask?.detail, id).toMatch(detail);
					if (status !== "measured") expect(subtask?.status, id).toBe(status);
					else {
						const dirtyMiBs = Number(subtask?.detail?.match(/dirties (\d+)/)?.[1]);
						expect(subtask?.status, id).toBe(dirtyMiBs < 0.5 ? "passed" : "failed");
					}
				}
			}
			expect(await filedOn(vmId, hosts)).toEqual([b.hostId]);
		} finally {
			await admin("PUT", "/v1/migration-policy", saved);
		}
	});

	it("keeps a VM running while its file is broken, and stops it once the file leaves --vms-dir", async () => {
		const file = join(b.vmsDir, `${vmId}.json`);
		const [pid] = await qemuPids(vmId);
		await writeFile(file, "{ half written");
		await b.waitForLine(new RegExp(`${vmId}\\.json: not JSON; VM not started`));
		expect(await qemuPids(vmId)).toEqual([pid]);
		await rm(file);
		await eventually(
			() => qemuPids(vmId),
			(pids) => pids.length === 0,
			20_000,
			"no QEMU",
		);
		await b.waitForLine(new RegExp(`VM ${vmId} stopped`));
	});
});
