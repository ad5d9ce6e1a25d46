// Proves, against a real `wrangler dev` with `ws` agents and signed webhooks,
// that migrating a VM with two virtual functions transfers both to the target
// host's device: the source agent (the drivers' host) sees `vf.hold` before
// `vf.lift` for each function, and translation through the drivers' device
// then reaches the target host. The migration flow itself is team migration's
// and is proven in its own tests.
import { afterAll, describe, expect, inject, it } from "vitest";
import { api, type E2eHost, sendWebhook } from "./support/migration-agent";
import { connectRecordingAgent } from "./support/pci-agent";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");
const call = (method: string, path: string, body?: unknown) =>
	api(baseUrl, adminToken, method, path, body);
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const agents: Array<{ close(): void }> = [];
afterAll(() => {
	for (const agent of agents) agent.close();
});

async function createHost(domain: string): Promise<E2eHost> {
	const { status, body } = await call("PUT", `/v1/hosts/${unique("pcihost")}`, {
		domain,
		site: "fra-1",
		cpu: { model: "AMD EPYC 9654", flags: ["avx2", "sev"] },
		memoryMiB: 786_432,
		hypervisor: { name: "qemu-kvm", version: "8.2.0" },
	});
	expect(status).toBe(201);
	return body as unknown as E2eHost;
}

const device = (vfBarBase: string) => ({
	vendorId: "0x8086",
	deviceId: "0x1572",
	sriov: { totalVfs: 4, firstVfOffset: 128, vfStride: 2, vfBarBase, vfBarSize: "0x4000" },
});

describe("migration with virtual functions", () => {
	it("transfers both functions to the target host, vf.hold before vf.lift for each", async () => {
		const domain = unique("pcidom");
		const source = await createHost(domain);
		const target = await createHost(domain);
		const vmId = unique("vm");
		expect(
			(await call("PUT", `/v1/hosts/${source.hostId}/vms/${vmId}`, { memoryMiB: 4096, vcpus: 2 }))
				.status,
		).toBe(201);
		const sourceDevice = `/v1/hosts/${source.hostId}/pci-devices/0000:3b:00.0`;
		expect((await call("PUT", sourceDevice, device("0x800000000"))).status).toBe(201);
		expect(
			(
				await call(
					"PUT",
					`/v1/hosts/${target.hostId}/pci-devices/0000:5e:00.0`,
					device("0x900000000"),
				)
			).status,
		).toBe(201);
		for (const virtualAddress of ["0x7f0000000000", "0x7f0000100000"]) {
			expect((await call("POST", `${sourceDevice}/vfs`, { vmId, virtualAddress })).status).toBe(
				201,
			);
		}
		const agent = connectRecordingAgent(baseUrl, source.hostId, source.agentToken);
		// The shipped policy moves a VM only to a host whose agent is connected.
		const targetAgent = connectRecordingAgent(baseUrl, target.hostId, target.agentToken);
		agents.push(agent, targetAgent);
		await Promise.all([agent.opened, targetAgent.opened]);

		const created = await call("POST", "/v1/migrations", { vmId, targetHostId: target.hostId });
		expect(created.status).toBe(201);
		const migrationId = created.body.migrationId as string;
		// The attached-functions set is triggered; its agent subtasks pass.
		const sets = created.body.validationSets as Array<{
			status: string;
			subtasks: Array<{ kind: string }>;
		}>;
		const agentSubtasks = sets
			.filter((set) => set.status !== "skipped")
			.flatMap((set) => set.subtasks.filter((subtask) => subtask.kind === "agent")).length;
		expect(agentSubtasks).toBeGreaterThan(0);
		for (const run of await agent.until(["validation.run"], agentSubtasks)) {
			await sendWebhook(baseUrl, source, "validation.result", {
				migrationId,
				subtask: run.subtask,
				ok: true,
			});
		}
		await agent.until(["migration.start"], 1);
		expect(await sendWebhook(baseUrl, source, "migration.completed", { migrationId })).toBe(200);

		const notifications = await agent.until(["vf.hold", "vf.lift"], 4);
		const holds = notifications.filter((command) => command.type === "vf.hold");
		expect(holds.map((hold) => hold.virtualAddress).sort()).toEqual([
			"0x7f0000000000",
			"0x7f0000100000",
		]);
		for (const hold of holds) {
			const liftIndex = notifications.findIndex(
				(command) => command.type === "vf.lift" && command.transferId === hold.transferId,
			);
			expect(liftIndex, `lift for ${hold.virtualAddress}`).toBeGreaterThan(
				notifications.indexOf(hold),
			);
			expect(notifications[liftIndex]).toMatchObject({
				hostId: target.hostId,
				bdf: "0000:5e:00.0",
				vmId,
			});
		}

		const translated = await call("POST", `${sourceDevice}/translate`, {
			virtualAddress: "0x7f0000100010",
		});
		expect(translated.body).toMatchObject({
			hostId: target.hostId,
			bdf: "0000:5e:00.0",
			mappingVersion: 2,
		});
		const table = await call("GET", `${sourceDevice}/translation-table`);
		const entries = table.body.entries as Array<{ target: { hostId: string }; state: string }>;
		expect(entries.map((entry) => [entry.target.hostId, entry.state])).toEqual([
			[target.hostId, "active"],
			[target.hostId, "active"],
		]);
	});
});
