// Proves the demo fleet seeding (what `npm run dev` runs) against the real
// Worker: two domains, six hosts, twelve VMs with 0600 key files, SR-IOV
// functions attached to VMs, idempotent on a second run (same secrets,
// nothing duplicated), a key rotated elsewhere noticed and its file made
// current again, and every simulated
// agent connects with the seeded secrets. Does not start `npm run dev` itself.
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { seedDemoFleet } from "../../scripts/demo-fleet.mjs";
import { admin, type RecordedSimulator, requestSession, simulate } from "./agent-sim-support";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");

type Fleet = {
	hosts: Array<{ hostId: string; domain: string; agentToken: string; webhookSecret: string }>;
	vms: Array<{ vmId: string; hostId: string; domain: string; keyFile: string }>;
};

let demoDir: string;
let first: { fleet: Fleet; fleetFile: string; notes: string[] };
let simulator: RecordedSimulator | undefined;

beforeAll(async () => {
	demoDir = await mkdtemp(join(tmpdir(), "edgevisor-demo-"));
	first = await seedDemoFleet({ baseUrl, adminToken, demoDir });
});
afterAll(() => simulator?.stop());

describe("demo fleet seeding", () => {
	it("creates six hosts in two broadcast domains", async () => {
		const { body } = await admin<{ hosts: Array<{ hostId: string; domain: string }> }>(
			"GET",
			"/v1/hosts",
		);
		const demoHosts = body.hosts.filter((host) => /^(fra1|ams1)-h\d$/.test(host.hostId));
		expect(demoHosts).toHaveLength(6);
		expect(new Set(demoHosts.map((host) => host.domain))).toEqual(
			new Set(["edge-prod", "edge-lab"]),
		);
	});

	it("enrols twelve VMs, each with its key in a 0600 file", async () => {
		expect(first.fleet.vms).toHaveLength(12);
		for (const vm of first.fleet.vms) {
			expect((await stat(vm.keyFile)).mode & 0o777).toBe(0o600);
			expect((await readFile(vm.keyFile, "utf8")).trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
		}
	});

	it("seeds every resource without a note", () => {
		expect(first.notes).toEqual([]);
	});

	it("attaches virtual functions to VMs on the SR-IOV devices, once across runs", async () => {
		await seedDemoFleet({ baseUrl, adminToken, demoDir });
		const { body } = await admin<{ entries: Array<{ virtualAddress: string; state: string }> }>(
			"GET",
			"/v1/hosts/fra1-h1/pci-devices/0000:3b:00.0/translation-table",
		);
		expect(body.entries.map((entry) => entry.virtualAddress).sort()).toEqual([
			"0x7f0000000000",
			"0x7f0000100000",
		]);
	});

	it("keeps the fleet file readable by its owner only", async () => {
		expect((await stat(first.fleetFile)).mode & 0o777).toBe(0o600);
	});

	it("reuses the secrets and keys on a second run", async () => {
		const keysBefore = await Promise.all(first.fleet.vms.map((vm) => readFile(vm.keyFile, "utf8")));
		const second = await seedDemoFleet({ baseUrl, adminToken, demoDir });
		expect(second.fleet.hosts).toEqual(first.fleet.hosts);
		const keysAfter = await Promise.all(
			second.fleet.vms.map((vm: { keyFile: string }) => readFile(vm.keyFile, "utf8")),
		);
		expect(keysAfter).toEqual(keysBefore);
		const { body } = await admin<{ vms: unknown[] }>("GET", "/v1/hosts/fra1-h1/vms");
		expect(body.vms).toHaveLength(3);
	});

	it("notices a key rotated behind its back: the next run rotates it again and rewrites its file", async () => {
		const vm = first.fleet.vms.find((one) => one.vmId === "web-2");
		if (!vm) throw new Error("no web-2 in the demo");
		const before = (await readFile(vm.keyFile, "utf8")).trim();
		await admin("POST", `/v1/hosts/${vm.hostId}/vms/${vm.vmId}/rotate-key`);
		const lines: string[] = [];
		await seedDemoFleet({ baseUrl, adminToken, demoDir, log: (line: string) => lines.push(line) });
		const after = (await readFile(vm.keyFile, "utf8")).trim();
		expect(after).not.toBe(before);
		expect(lines.filter((line) => line.includes("web-2"))).toEqual([
			expect.stringContaining("stale (the key was rotated since)"),
		]);
		expect((await requestSession(vm.domain, vm.vmId, after)).status).toBe(201);
	});

	it("gives every simulated host agent a control channel", async () => {
		const sim = simulate(first.fleet.hosts);
		simulator = sim;
		const connected = await Promise.all(
			first.fleet.hosts.map((host) =>
				sim.waitFor((event) => event.type === "connected" && event.hostId === host.hostId),
			),
		);
		expect(connected).toHaveLength(6);
	});
});
