// Proves the PCI device routes of API.md inside workerd: device registration
// and its geometry checks, VF creation (lowest free slot, no_free_vf),
// translation, transfer between devices (the mapping stays in the first
// device's table), the translation table and the event timeline, every error
// code with "nothing changed" checks. Concurrency, recovery and agent
// notifications are proven in their own files; this file does not.
import { describe, expect, it } from "vitest";
import { admin, call, problemOf } from "../support/http";
import {
	createVf,
	deviceOf,
	devicePath,
	ensureHost,
	ensureVm,
	registerDevice,
	sriov,
	tableOf,
	transfer,
	translate,
	uniqueHost,
} from "../support/pci";

const pf = "0000:3b:00.0";
const other = "0000:5e:00.0";

describe("PCI devices", () => {
	it("registers a device with 201, then updates it with 200, canonicalising the BDF", async () => {
		const host = uniqueHost();
		const body = {
			vendorId: "8086",
			deviceId: 0x1572,
			sriov: { totalVfs: 2, firstVfOffset: 1, vfStride: 1, vfBarBase: "0x10000", vfBarSize: 4096 },
		};
		await ensureHost(host);
		const created = await admin("PUT", devicePath(host, "0000:3B:00.0"), body);
		expect(created.status).toBe(201);
		expect(await created.json()).toMatchObject({
			hostId: host,
			bdf: "0000:3b:00.0",
			vendorId: "0x8086",
			deviceId: "0x1572",
			sriov: { totalVfs: 2, vfBarBase: "0x10000", vfBarSize: "0x1000" },
			vfsInUse: 0,
		});
		const updated = await admin("PUT", devicePath(host, pf), { ...body, vendorId: "0x15b3" });
		expect(updated.status).toBe(200);
		expect((await deviceOf(host, pf)).body.vendorId).toBe("0x15b3");
	});

	it("answers host_not_found for the devices of an unknown host", async () => {
		const response = await admin("GET", `/v1/hosts/${uniqueHost("none")}/pci-devices`);
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("host_not_found");
	});

	it("refuses a function whose VF BARs overlap another's on the host, registering nothing", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		const refused = await admin("PUT", devicePath(host, other), {
			vendorId: "0x8086",
			deviceId: "0x1572",
			sriov: { ...sriov, vfBarBase: "0x800004000" },
		});
		expect(refused.status).toBe(400);
		expect((await problemOf(refused)).detail).toBe(
			`body.sriov.vfBarBase: the VF BAR window overlaps that of ${pf}`,
		);
		expect((await deviceOf(host, other)).status).toBe(404);
		// Re-registering the same function is an update, not a conflict with itself.
		expect(
			(await admin("PUT", devicePath(host, pf), { vendorId: "0x8086", deviceId: "0x1572", sriov }))
				.status,
		).toBe(200);
	});

	it("lets exactly one of two concurrent conflicting registrations win", async () => {
		const host = uniqueHost();
		await ensureHost(host);
		// Two functions whose VF BAR windows overlap, registered at the same moment, ten times over.
		for (let round = 0; round < 10; round++) {
			const bdfs = [
				`0000:${(0x40 + 2 * round).toString(16)}:00.0`,
				`0000:${(0x41 + 2 * round).toString(16)}:00.0`,
			];
			const base = `0x${(0x10_0000_0000 + round * 0x1_0000_0000).toString(16)}`;
			const responses = await Promise.all(
				bdfs.map((bdf) =>
					admin("PUT", devicePath(host, bdf), {
						vendorId: "0x8086",
						deviceId: "0x1572",
						sriov: { ...sriov, firstVfOffset: 0x80, vfBarBase: base },
					}),
				),
			);
			expect(responses.map((response) => response.status).sort()).toEqual([201, 400]);
			const refused = responses.find((response) => response.status === 400);
			expect((await problemOf(refused as Response)).detail).toMatch(/^body\.sriov\.vfBarBase: /);
		}
		const listed = await admin("GET", `/v1/hosts/${host}/pci-devices`);
		expect(((await listed.json()) as { devices: unknown[] }).devices).toHaveLength(10);
	});

	it("lists a host's devices in BDF order", async () => {
		const host = uniqueHost();
		await registerDevice(host, other, { vfBarBase: "0x900000000" });
		await registerDevice(host, pf);
		const response = await admin("GET", `/v1/hosts/${host}/pci-devices`);
		const { devices } = (await response.json()) as { devices: Array<{ bdf: string }> };
		expect(devices.map((device) => device.bdf)).toEqual([pf, other]);
	});

	it.each([
		["vfStride", { vfStride: 0 }],
		["totalVfs", { totalVfs: 0 }],
		["vfBarSize", { vfBarSize: "0x3000" }],
		["vfBarSize", { vfBarBase: "0xffffffffffff0000", vfBarSize: "0x10000", totalVfs: 2 }],
		["totalVfs", { firstVfOffset: 0xc500, totalVfs: 8 }],
		["vfBarBase", { vfBarBase: "0x10000000000000000" }],
	])("refuses a geometry with a bad %s, naming it, and stores nothing", async (field, change) => {
		const host = uniqueHost();
		await ensureHost(host);
		const response = await admin("PUT", devicePath(host, pf), {
			vendorId: "0x8086",
			deviceId: "0x1572",
			sriov: {
				totalVfs: 4,
				firstVfOffset: 0x80,
				vfStride: 2,
				vfBarBase: "0x800000000",
				vfBarSize: "0x4000",
				...change,
			},
		});
		expect(response.status).toBe(400);
		const problem = await problemOf(response);
		expect(problem.code).toBe("invalid_request");
		expect(problem.detail).toContain(field);
		expect((await deviceOf(host, pf)).body.code).toBe("device_not_found");
	});

	it("refuses a device on an unknown host with host_not_found, storing nothing", async () => {
		const host = uniqueHost();
		const response = await admin("PUT", devicePath(host, pf), {
			vendorId: "0x8086",
			deviceId: "0x1572",
			sriov: {
				totalVfs: 2,
				firstVfOffset: 1,
				vfStride: 1,
				vfBarBase: "0x10000",
				vfBarSize: "0x1000",
			},
		});
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("host_not_found");
		expect((await deviceOf(host, pf)).body.code).toBe("device_not_found");
	});

	it("refuses a malformed BDF with invalid_request", async () => {
		const response = await admin("PUT", devicePath(uniqueHost(), "0000:3b:20.0"), {});
		expect(response.status).toBe(400);
		expect((await problemOf(response)).detail).toContain("bdf");
	});

	it("refuses every device route without the admin token", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		for (const [method, suffix] of [
			["PUT", ""],
			["GET", ""],
			["POST", "/vfs"],
			["POST", "/vfs/0/transfer"],
			["GET", "/translation-table"],
			["GET", "/events"],
		] as const) {
			const response = await call(`${devicePath(host, pf)}${suffix}`, {
				method,
				headers: { Authorization: "Bearer wrong", "Content-Type": "application/json" },
				body: method === "GET" ? undefined : "{}",
			});
			expect(response.status, `${method} ${suffix}`).toBe(401);
			expect((await problemOf(response)).code).toBe("unauthorized");
		}
	});

	it("refuses translate without any bearer token", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		const response = await call(`${devicePath(host, pf)}/translate`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ virtualAddress: "0x1000" }),
		});
		expect(response.status).toBe(401);
		expect((await problemOf(response)).code).toBe("unauthorized");
	});

	it("answers device_not_found for every route of an unknown device", async () => {
		const host = uniqueHost();
		const path = devicePath(host, pf);
		const responses = [
			await admin("GET", path),
			await admin("POST", `${path}/vfs`, { vmId: "vm-1", virtualAddress: "0x1000" }),
			await admin("POST", `${path}/translate`, { virtualAddress: "0x1000" }),
			await admin("POST", `${path}/vfs/0/transfer`, { targetHostId: host, targetBdf: other }),
			await admin("GET", `${path}/translation-table`),
			await admin("GET", `${path}/events`),
		];
		for (const response of responses) {
			expect(response.status).toBe(404);
			expect((await problemOf(response)).code).toBe("device_not_found");
		}
	});
});

/** A VM of the test's own, named after its host, enrolled there. */
async function enrolled(host: string, name: string): Promise<string> {
	const vmId = `${name}-${host}`;
	await ensureVm(host, vmId);
	return vmId;
}

describe("virtual functions", () => {
	it("refuses a VF for a VM the host does not hold, or that does not exist, with vm_not_found, changing nothing", async () => {
		const host = uniqueHost();
		const elsewhere = uniqueHost();
		await registerDevice(host, pf);
		await registerDevice(elsewhere, pf);
		const vmElsewhere = await enrolled(elsewhere, "vm-away");
		for (const vmId of [vmElsewhere, `vm-none-${host}`]) {
			const refused = await admin("POST", `${devicePath(host, pf)}/vfs`, {
				vmId,
				virtualAddress: "0x10000",
			});
			expect(refused.status).toBe(404);
			expect((await problemOf(refused)).code).toBe("vm_not_found");
		}
		expect(await tableOf(host, pf)).toEqual([]);
		expect((await deviceOf(host, pf)).body.vfsInUse).toBe(0);
	});

	it("creates a VF in the lowest free slot with its BDF, base address and mapping", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		const first = await createVf(host, pf, `vm-a-${host}`, "0x7f0000000000");
		expect(first).toEqual({
			vfIndex: 0,
			vfBdf: "0000:3b:10.0",
			baseAddress: "0x800000000",
			mapping: {
				virtualAddress: "0x7f0000000000",
				size: "0x4000",
				offset: "-0x7ef800000000",
				state: "active",
				version: 1,
			},
		});
		const second = await createVf(host, pf, `vm-b-${host}`, "0x1000");
		expect(second).toMatchObject({ vfIndex: 1, vfBdf: "0000:3b:10.2", baseAddress: "0x800004000" });
		expect(second.mapping.offset).toBe("0x800003000");
	});

	it("refuses a VF when every slot is taken with no_free_vf, changing nothing", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf, { totalVfs: 1 });
		await createVf(host, pf, `vm-a-${host}`, "0x10000");
		const refused = await admin("POST", `${devicePath(host, pf)}/vfs`, {
			vmId: await enrolled(host, "vm-b"),
			virtualAddress: "0x20000",
		});
		expect(refused.status).toBe(409);
		expect((await problemOf(refused)).code).toBe("no_free_vf");
		expect(await tableOf(host, pf)).toHaveLength(1);
		expect((await deviceOf(host, pf)).body.vfsInUse).toBe(1);
	});

	it("names a bad address as invalid_request even when the device is full, changing nothing", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf, { totalVfs: 1 });
		await createVf(host, pf, `vm-a-${host}`, "0x10000");
		const refused = await admin("POST", `${devicePath(host, pf)}/vfs`, {
			vmId: await enrolled(host, "vm-b"),
			virtualAddress: "0x11000",
		});
		expect(refused.status).toBe(400);
		expect((await problemOf(refused)).detail).toMatch(/^body\.virtualAddress: .*overlaps/);
		expect(await tableOf(host, pf)).toHaveLength(1);
	});

	it("refuses a mapping that overlaps another one with invalid_request, changing nothing", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		await createVf(host, pf, `vm-a-${host}`, "0x10000");
		const refused = await admin("POST", `${devicePath(host, pf)}/vfs`, {
			vmId: await enrolled(host, "vm-b"),
			virtualAddress: "0x13000",
		});
		expect(refused.status).toBe(400);
		expect((await problemOf(refused)).detail).toContain("virtualAddress");
		expect(await tableOf(host, pf)).toHaveLength(1);
	});

	it.each([
		["a non-hex address", { vmId: "vm-a", virtualAddress: "4096" }],
		["an address past 64 bits", { vmId: "vm-a", virtualAddress: "0x10000000000000000" }],
		["a mapping running past 64 bits", { vmId: "vm-a", virtualAddress: "0xfffffffffffff000" }],
		["a bad vmId", { vmId: "-vm", virtualAddress: "0x1000" }],
	])("refuses %s with invalid_request, changing nothing", async (_name, input) => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		const refused = await admin("POST", `${devicePath(host, pf)}/vfs`, input);
		expect(refused.status).toBe(400);
		expect((await problemOf(refused)).code).toBe("invalid_request");
		expect(await tableOf(host, pf)).toHaveLength(0);
	});
});

describe("translation", () => {
	it("translates any address inside a mapping and names the serving function", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		await createVf(host, pf, `vm-a-${host}`, "0x7f0000000000");
		const { status, body } = await translate(host, pf, "0x7f0000000123");
		expect(status).toBe(200);
		expect(body).toEqual({
			physicalAddress: "0x800000123",
			hostId: host,
			bdf: pf,
			vfIndex: 0,
			mappingVersion: 1,
		});
		expect((await translate(host, pf, "0x7f0000003fff")).body.physicalAddress).toBe("0x800003fff");
	});

	it("answers address_not_mapped just outside a mapping", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		await createVf(host, pf, `vm-a-${host}`, "0x7f0000000000");
		for (const address of ["0x7f0000004000", "0x7effffffffff", "0x0"]) {
			const { status, body } = await translate(host, pf, address);
			expect(status).toBe(404);
			expect(body.code).toBe("address_not_mapped");
		}
	});

	it("refuses a malformed address with invalid_request", async () => {
		const host = uniqueHost();
		await registerDevice(host, pf);
		const { status, body } = await translate(host, pf, "0xnope");
		expect(status).toBe(400);
		expect(body.detail).toContain("virtualAddress");
	});
});

describe("transfer", () => {
	async function twoDevices(targetGeometry = {}) {
		const host = uniqueHost();
		const target = uniqueHost("tgt");
		await registerDevice(host, pf);
		await registerDevice(target, other, { vfBarBase: "0x900000000", ...targetGeometry });
		const vf = await createVf(host, pf, `vm-a-${host}`, "0x7f0000000000");
		return { host, target, vf };
	}

	it("moves the function to the target's lowest free VF and routes translation through the new offset", async () => {
		const { host, target } = await twoDevices();
		const { status, body } = await transfer(host, pf, 0, target, other);
		expect(status).toBe(200);
		expect(body).toEqual({
			transferId: expect.any(String),
			state: "completed",
			from: { hostId: host, bdf: pf, vfIndex: 0 },
			to: {
				hostId: target,
				bdf: other,
				vfIndex: 0,
				vfBdf: "0000:5e:10.0",
				baseAddress: "0x900000000",
			},
			offset: "-0x7ef700000000",
			mappingVersion: 2,
		});
		const translated = await translate(host, pf, "0x7f0000000123");
		expect(translated.body).toEqual({
			physicalAddress: "0x900000123",
			hostId: target,
			bdf: other,
			vfIndex: 0,
			mappingVersion: 2,
		});
	});

	it("releases the source slot and allocates the target slot", async () => {
		const { host, target } = await twoDevices();
		await transfer(host, pf, 0, target, other);
		expect((await deviceOf(host, pf)).body.vfsInUse).toBe(0);
		expect((await deviceOf(target, other)).body.vfsInUse).toBe(1);
		expect((await createVf(host, pf, `vm-b-${host}`, "0x10000")).vfIndex).toBe(0);
	});

	it("keeps the mapping in the first device's table and updates the same entry on a second transfer", async () => {
		const { host, target } = await twoDevices();
		const third = "0000:af:00.0";
		await registerDevice(target, third, { vfBarBase: "0xa00000000" });
		await transfer(host, pf, 0, target, other);
		const again = await transfer(target, other, 0, target, third);
		expect(again.status).toBe(200);
		expect(again.body.from).toEqual({ hostId: target, bdf: other, vfIndex: 0 });
		expect(again.body.mappingVersion).toBe(3);
		const entries = await tableOf(host, pf);
		expect(entries).toEqual([
			{
				virtualAddress: "0x7f0000000000",
				size: "0x4000",
				vmId: `vm-a-${host}`,
				target: { hostId: target, bdf: third, vfIndex: 0 },
				offset: "-0x7ef600000000",
				state: "active",
				version: 3,
			},
		]);
		expect(await tableOf(target, other)).toEqual([]);
		expect((await deviceOf(target, other)).body.vfsInUse).toBe(0);
		expect((await translate(host, pf, "0x7f0000000000")).body.physicalAddress).toBe("0xa00000000");
	});

	it("can transfer the function back to its first device", async () => {
		const { host, target } = await twoDevices();
		await transfer(host, pf, 0, target, other);
		const back = await transfer(target, other, 0, host, pf);
		expect(back.status).toBe(200);
		expect(back.body.to).toMatchObject({
			hostId: host,
			bdf: pf,
			vfIndex: 0,
			baseAddress: "0x800000000",
		});
		expect((await translate(host, pf, "0x7f0000000001")).body).toMatchObject({
			physicalAddress: "0x800000001",
			mappingVersion: 3,
		});
	});

	it("answers a translate sent to the device now serving the function from the driver's table", async () => {
		const { host, target } = await twoDevices();
		await transfer(host, pf, 0, target, other);
		const { status, body } = await translate(target, other, "0x7f0000000123");
		expect(status).toBe(200);
		expect(body).toEqual({
			physicalAddress: "0x900000123",
			hostId: target,
			bdf: other,
			vfIndex: 0,
			mappingVersion: 2,
		});
		expect((await translate(target, other, "0x7f0000004000")).body.code).toBe("address_not_mapped");
		expect((await translate(target, other, "0x1000")).body.code).toBe("address_not_mapped");
	});

	it("forwards a translate to the driver whose served mapping covers the address, not the nearest one below", async () => {
		const { host, target } = await twoDevices();
		// A second driver's table is its own address space: its mapping starts
		// inside the first one's range but is a quarter of its size.
		const small = "0000:86:00.0";
		await registerDevice(host, small, { vfBarBase: "0xa00000000", vfBarSize: "0x1000" });
		await createVf(host, small, `vm-b-${host}`, "0x7f0000002000");
		expect((await transfer(host, pf, 0, target, other)).status).toBe(200);
		expect((await transfer(host, small, 0, target, other)).status).toBe(200);
		const { status, body } = await translate(target, other, "0x7f0000003800");
		expect(status).toBe(200);
		expect(body).toMatchObject({ physicalAddress: "0x900003800", vfIndex: 0 });
		expect((await translate(target, other, "0x7f0000000800")).body).toMatchObject({
			physicalAddress: "0x900000800",
		});
	});

	it("answers device_not_found for an unknown target, changing nothing", async () => {
		const { host } = await twoDevices();
		const missingHost = uniqueHost("none");
		const refused = await transfer(host, pf, 0, missingHost, other);
		expect(refused.status).toBe(404);
		expect(refused.body.code).toBe("device_not_found");
		// The detail blames the target, not the device the request was sent to.
		expect(refused.body.detail).toBe(
			`body.targetBdf: no PCI device ${other} on host ${missingHost}`,
		);
		expect((await tableOf(host, pf))[0]).toMatchObject({
			target: { hostId: host, bdf: pf, vfIndex: 0 },
			version: 1,
			state: "active",
		});
		expect((await deviceOf(host, pf)).body.vfsInUse).toBe(1);
	});

	it("answers no_free_vf when the target is full, changing nothing on either side", async () => {
		const { host, target } = await twoDevices({ totalVfs: 1 });
		await createVf(target, other, `vm-z-${target}`, "0x10000");
		const refused = await transfer(host, pf, 0, target, other);
		expect(refused.status).toBe(409);
		expect(refused.body.code).toBe("no_free_vf");
		expect((await tableOf(host, pf))[0]).toMatchObject({ version: 1, state: "active" });
		expect((await deviceOf(target, other)).body.vfsInUse).toBe(1);
	});

	it("refuses a target whose VF BARs are smaller than the mapping, naming the target, changing nothing", async () => {
		const { host, target } = await twoDevices({ vfBarSize: "0x1000" });
		const refused = await transfer(host, pf, 0, target, other);
		expect(refused.status).toBe(400);
		expect(refused.body).toMatchObject({ code: "invalid_request" });
		expect(refused.body.detail).toMatch(/^body\.targetBdf: the VF BARs of .* are smaller/);
		expect((await tableOf(host, pf))[0]).toMatchObject({ version: 1, state: "active" });
		expect((await deviceOf(target, other)).body.vfsInUse).toBe(0);
	});

	it("answers not_found for a VF index that is not allocated", async () => {
		const { host, target } = await twoDevices();
		const refused = await transfer(host, pf, 3, target, other);
		expect(refused.status).toBe(404);
		expect(refused.body.code).toBe("not_found");
	});

	it("refuses a malformed target BDF with invalid_request", async () => {
		const { host, target } = await twoDevices();
		const refused = await transfer(host, pf, 0, target, "5e:00.0");
		expect(refused.status).toBe(400);
		expect(refused.body.detail).toContain("targetBdf");
	});
});

describe("events", () => {
	it("records the hold and the lift with its duration, newest first, all in the moved VF's lane", async () => {
		const host = uniqueHost();
		const target = uniqueHost("tgt");
		await registerDevice(host, pf);
		await registerDevice(target, other);
		await createVf(host, pf, `vm-a-${host}`, "0x7f0000000000");
		// The target's VF 0 is taken, so the function lands on its VF 1.
		await createVf(target, other, `vm-t-${target}`, "0x10000");
		const { body } = await transfer(host, pf, 0, target, other);
		expect(body).toMatchObject({ to: { vfIndex: 1 } });
		const response = await admin("GET", `${devicePath(host, pf)}/events`);
		const { events } = (await response.json()) as { events: Array<Record<string, unknown>> };
		expect(events.map((event) => event.type)).toEqual([
			"transfer.completed",
			"vf.released",
			"mapping.lifted",
			"mapping.held",
			"vf.created",
		]);
		const lifted = events.find((event) => event.type === "mapping.lifted");
		expect(lifted).toMatchObject({
			transferId: body.transferId,
			vfIndex: 0,
			virtualAddress: "0x7f0000000000",
			mappingVersion: 2,
		});
		expect(lifted?.durationMs).toEqual(expect.any(Number));
		// The timeline shows one lane per VF of this device: the whole transfer sits in VF 0's.
		expect(new Set(events.map((event) => event.vfIndex))).toEqual(new Set([0]));
	});
});

describe("OpenAPI", () => {
	it("documents every PCI route with its problems", async () => {
		const document = (await (await call("/openapi.json")).json()) as {
			paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
		};
		const device = "/v1/hosts/{hostId}/pci-devices/{bdf}";
		expect(Object.keys(document.paths[device] ?? {}).sort()).toEqual(["get", "put"]);
		expect(Object.keys(document.paths["/v1/hosts/{hostId}/pci-devices"] ?? {})).toEqual(["get"]);
		for (const [suffix, status] of [
			["/vfs", "409"],
			["/translate", "503"],
			["/vfs/{vfIndex}/transfer", "409"],
			["/translation-table", "404"],
			["/events", "404"],
		] as const) {
			const operations = Object.values(document.paths[`${device}${suffix}`] ?? {});
			expect(operations, suffix).toHaveLength(1);
			expect(Object.keys(operations[0]?.responses ?? {}), suffix).toContain(status);
		}
	});
});
