// Proves a PCI function transfer end to end against a real `wrangler dev`:
// a host agent connected with the `ws` client sees `vf.hold` before `vf.lift`
// for the transfer, translating with that agent's token follows the function
// to its new device, and the device's timeline records the hold's duration.
// It does not prove recovery or concurrency (the workerd integration tests do).
import { describe, expect, inject, it } from "vitest";
import { connectRecordingAgent } from "./support/pci-agent";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");
const suffix = crypto.randomUUID().slice(0, 8);

async function api(method: string, path: string, body?: unknown, token = adminToken) {
	const response = await fetch(`${baseUrl}${path}`, {
		method,
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function createHost(hostId: string): Promise<string> {
	const { status, body } = await api("PUT", `/v1/hosts/${hostId}`, {
		domain: `pci-e2e-${suffix}`,
		site: "fra1",
		cpu: { model: "Xeon", flags: ["avx2"] },
		memoryMiB: 262_144,
		hypervisor: { name: "cloud-hypervisor", version: "41.0" },
	});
	expect(status).toBe(201);
	return body.agentToken as string;
}

describe("PCI transfer against wrangler dev", () => {
	it("notifies the agent vf.hold then vf.lift and routes the agent's translations to the new function", async () => {
		const driverHost = `pci-a-${suffix}`;
		const targetHost = `pci-b-${suffix}`;
		const agentToken = await createHost(driverHost);
		await createHost(targetHost);
		const agent = connectRecordingAgent(baseUrl, driverHost, agentToken);
		await agent.opened;
		const sriov = { totalVfs: 8, firstVfOffset: 128, vfStride: 2, vfBarSize: "0x4000" };
		const device = (vfBarBase: string) => ({
			vendorId: "0x8086",
			deviceId: "0x1572",
			sriov: { ...sriov, vfBarBase },
		});
		expect(
			(await api("PUT", `/v1/hosts/${driverHost}/pci-devices/0000:3b:00.0`, device("0x800000000")))
				.status,
		).toBe(201);
		expect(
			(await api("PUT", `/v1/hosts/${targetHost}/pci-devices/0000:5e:00.0`, device("0x900000000")))
				.status,
		).toBe(201);
		const vm = await api("PUT", `/v1/hosts/${driverHost}/vms/vm-${suffix}`, {
			memoryMiB: 2048,
			vcpus: 1,
		});
		expect(vm.status).toBe(201);
		const created = await api("POST", `/v1/hosts/${driverHost}/pci-devices/0000:3b:00.0/vfs`, {
			vmId: `vm-${suffix}`,
			virtualAddress: "0x7f0000000000",
		});
		expect(created.status).toBe(201);

		const moved = await api(
			"POST",
			`/v1/hosts/${driverHost}/pci-devices/0000:3b:00.0/vfs/0/transfer`,
			{
				targetHostId: targetHost,
				targetBdf: "0000:5e:00.0",
			},
		);
		expect(moved.status).toBe(200);
		const [hold, lift] = await agent.until(["vf.hold", "vf.lift"], 2);
		expect(hold).toMatchObject({
			type: "vf.hold",
			hostId: driverHost,
			transferId: moved.body.transferId,
		});
		expect(lift).toMatchObject({
			type: "vf.lift",
			hostId: targetHost,
			transferId: moved.body.transferId,
		});

		const translated = await api(
			"POST",
			`/v1/hosts/${driverHost}/pci-devices/0000:3b:00.0/translate`,
			{ virtualAddress: "0x7f0000000123" },
			agentToken,
		);
		expect(translated).toEqual({
			status: 200,
			body: {
				physicalAddress: "0x900000123",
				hostId: targetHost,
				bdf: "0000:5e:00.0",
				vfIndex: 0,
				mappingVersion: 2,
			},
		});
		const { body } = await api("GET", `/v1/hosts/${driverHost}/pci-devices/0000:3b:00.0/events`);
		const lifted = (body.events as Array<Record<string, unknown>>).find(
			(event) => event.type === "mapping.lifted",
		);
		expect(lifted?.durationMs).toEqual(expect.any(Number));
		agent.close();
	});
});
