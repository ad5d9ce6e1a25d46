// Proves the RPC surface migrations use to move a VM's functions to another
// host: `transferToHost` on the device the driver was first mapped through
// picks the target host's devices in BDF order and takes the first with a
// free slot (a deterministic choice), is idempotent by transfer id, leaves a
// function already on that host alone, and refuses with no_free_vf when the
// host has no room, changing nothing; the host's directory counts the room.
// It does not prove the migration flow that calls them (team migration's).
import { describe, expect, it } from "vitest";
import { hostDevices, pciDevice } from "../support/objects";
import { createVf, deviceOf, registerDevice, tableOf, uniqueHost } from "../support/pci";
import { rpcError } from "../support/rpc";

const driverBdf = "0000:3b:00.0";
const firstBdf = "0000:5e:00.0";
const secondBdf = "0000:af:00.0";
const virtualAddress = "0x7f0000000000";

async function hosts() {
	const driverHost = uniqueHost("drv");
	const targetHost = uniqueHost("tgt");
	await registerDevice(driverHost, driverBdf);
	// Registered out of order: the choice must follow BDF order, not registration order.
	await registerDevice(targetHost, secondBdf, { vfBarBase: "0xa00000000" });
	await registerDevice(targetHost, firstBdf, { vfBarBase: "0x900000000", totalVfs: 1 });
	await createVf(driverHost, driverBdf, `vm-mig-${driverHost}`, virtualAddress);
	return { driverHost, targetHost, driver: pciDevice(driverHost, driverBdf) };
}

describe("transfer to a host", () => {
	it("takes the first device of the host in BDF order that has a free slot", async () => {
		const { targetHost, driver } = await hosts();
		const result = await driver.transferToHost({
			virtualAddress,
			targetHostId: targetHost,
			transferId: "m1/0",
		});
		expect(result?.to).toMatchObject({ hostId: targetHost, bdf: firstBdf, vfIndex: 0 });
	});

	it("skips a full device for the next one", async () => {
		const { targetHost, driver } = await hosts();
		await createVf(targetHost, firstBdf, `vm-other-${targetHost}`, "0x10000");
		const result = await driver.transferToHost({
			virtualAddress,
			targetHostId: targetHost,
			transferId: "m2/0",
		});
		expect(result?.to).toMatchObject({ hostId: targetHost, bdf: secondBdf, vfIndex: 0 });
		expect((await deviceOf(targetHost, firstBdf)).body.vfsInUse).toBe(1);
	});

	it("returns the same transfer when retried with the same transfer id", async () => {
		const { driverHost, targetHost, driver } = await hosts();
		const request = { virtualAddress, targetHostId: targetHost, transferId: "m3/0" };
		const first = await driver.transferToHost(request);
		const again = await driver.transferToHost(request);
		expect(again).toEqual(first);
		expect((await tableOf(driverHost, driverBdf))[0]).toMatchObject({ version: 2 });
		expect((await deviceOf(targetHost, firstBdf)).body.vfsInUse).toBe(1);
		expect((await deviceOf(targetHost, secondBdf)).body.vfsInUse).toBe(0);
	});

	it("leaves a function that the host already serves where it is", async () => {
		const { targetHost, driver } = await hosts();
		await driver.transferToHost({ virtualAddress, targetHostId: targetHost, transferId: "m4/0" });
		const second = await driver.transferToHost({
			virtualAddress,
			targetHostId: targetHost,
			transferId: "m4/1",
		});
		expect(second).toBeNull();
	});

	it("refuses with no_free_vf when no device of the host has room, changing nothing", async () => {
		const { driverHost, driver } = await hosts();
		const emptyHost = uniqueHost("empty");
		await registerDevice(emptyHost, firstBdf, { totalVfs: 1 });
		await createVf(emptyHost, firstBdf, `vm-other-${emptyHost}`, "0x10000");
		const refusal = await rpcError(
			driver.transferToHost({ virtualAddress, targetHostId: emptyHost, transferId: "m5/0" }),
		);
		expect(refusal).toMatchObject({ code: "no_free_vf" });
		expect((await tableOf(driverHost, driverBdf))[0]).toMatchObject({
			target: { hostId: driverHost, bdf: driverBdf, vfIndex: 0 },
			version: 1,
			state: "active",
		});
		expect((await deviceOf(emptyHost, firstBdf)).body.vfsInUse).toBe(1);
	});

	it("counts a host's free VF slots over its devices, honouring a minimum BAR size", async () => {
		const { targetHost } = await hosts();
		expect(await hostDevices(targetHost).hostCapacity()).toEqual({
			devices: 2,
			freeVfs: 5,
		});
		expect(await hostDevices(targetHost).hostCapacity("0x8000")).toEqual({
			devices: 2,
			freeVfs: 0,
		});
		const none = uniqueHost("none");
		expect(await hostDevices(none).hostCapacity()).toEqual({ devices: 0, freeVfs: 0 });
	});
});
