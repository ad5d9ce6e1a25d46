// Proves that a transfer interrupted after any of its persisted steps is
// finished by the driver device's alarm after an eviction or an abort: before
// the hold it rolls back (target reservation released, mapping untouched),
// from the hold on it completes (new offset, source slot released, target VF
// active); no slot is leaked and no entry is left held. Also proves how a
// translate behaves during a hold whose lift is late: it waits and gets the new
// address, or answers 503 function_on_hold with Retry-After after 2 s. The
// interruption is made by driving a transfer (inside the object) only as far
// as a given step, as if the object stopped there.
import { abortAllDurableObjects, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PciDevice } from "../../durable-objects/pci-device";
import { admin } from "../support/http";
import { pciDevice, pciDeviceStub } from "../support/objects";
import {
	createVf,
	deviceOf,
	devicePath,
	registerDevice,
	tableOf,
	translate,
	uniqueHost,
} from "../support/pci";

const driverBdf = "0000:3b:00.0";
const targetBdf = "0000:5e:00.0";
const virtualAddress = "0x7f0000000000";

async function interruptedTransfer(step: "reserving" | "reserved" | "held" | "lifted") {
	const driverHost = uniqueHost("drv");
	const targetHost = uniqueHost("tgt");
	await registerDevice(driverHost, driverBdf);
	await registerDevice(targetHost, targetBdf, { vfBarBase: "0x900000000" });
	await createVf(driverHost, driverBdf, `vm-rec-${driverHost}`, virtualAddress);
	const driver = pciDeviceStub(driverHost, driverBdf);
	const transferId = `t-${crypto.randomUUID()}`;
	const order = { virtualAddress, transferId, targetHostId: targetHost, targetBdf };
	const reached = await runInDurableObject(
		driver,
		async (instance: PciDevice) => (await instance.transfers.run(order, step)).step,
	);
	expect(reached).toBe(step);
	return { driverHost, targetHost, driver, transferId };
}

/** Runs the alarm handler on a fresh instance, as the runtime does after an eviction. */
async function runAlarmAfterRestart(hostId: string) {
	await runInDurableObject(pciDeviceStub(hostId, driverBdf), (instance: PciDevice) =>
		instance.alarm(),
	);
}

async function expectRolledBack(driverHost: string, targetHost: string) {
	expect(await tableOf(driverHost, driverBdf)).toEqual([
		expect.objectContaining({
			target: { hostId: driverHost, bdf: driverBdf, vfIndex: 0 },
			state: "active",
			version: 1,
		}),
	]);
	expect((await deviceOf(driverHost, driverBdf)).body.vfsInUse).toBe(1);
	expect((await deviceOf(targetHost, targetBdf)).body.vfsInUse).toBe(0);
	expect((await translate(driverHost, driverBdf, virtualAddress)).body.physicalAddress).toBe(
		"0x800000000",
	);
}

async function expectCompleted(driverHost: string, targetHost: string) {
	expect(await tableOf(driverHost, driverBdf)).toEqual([
		expect.objectContaining({
			target: { hostId: targetHost, bdf: targetBdf, vfIndex: 0 },
			state: "active",
			version: 2,
		}),
	]);
	expect((await deviceOf(driverHost, driverBdf)).body.vfsInUse).toBe(0);
	expect((await deviceOf(targetHost, targetBdf)).body.vfsInUse).toBe(1);
	const targetEvents = await (
		await admin("GET", `${devicePath(targetHost, targetBdf)}/events`)
	).json();
	expect((targetEvents as { events: Array<{ type: string }> }).events[0]?.type).toBe(
		"vf.activated",
	);
	expect((await translate(driverHost, driverBdf, virtualAddress)).body.physicalAddress).toBe(
		"0x900000000",
	);
}

describe("transfer recovery", () => {
	it.each(["reserving", "reserved", "held", "lifted"] as const)(
		"leaves an alarm no later than the deadline of a transfer stopped after %s",
		async (step) => {
			const { driver, transferId } = await interruptedTransfer(step);
			const [alarmAt, deadlineMs] = await runInDurableObject(driver, async (_instance, state) => [
				await state.storage.getAlarm(),
				state.storage.sql
					.exec<{ deadline_ms: number }>(
						"SELECT deadline_ms FROM transfers WHERE transfer_id = ?",
						transferId,
					)
					.one().deadline_ms,
			]);
			expect(alarmAt).not.toBeNull();
			expect(alarmAt).toBeLessThanOrEqual(deadlineMs as number);
		},
	);

	it.each(["reserving", "reserved"] as const)(
		"rolls back a transfer evicted after %s and releases the target slot",
		async (step) => {
			const { driverHost, targetHost, driver } = await interruptedTransfer(step);
			await evictDurableObject(driver);
			await runAlarmAfterRestart(driverHost);
			await expectRolledBack(driverHost, targetHost);
		},
	);

	it.each(["held", "lifted"] as const)("completes a transfer evicted after %s", async (step) => {
		const { driverHost, targetHost, driver } = await interruptedTransfer(step);
		await evictDurableObject(driver);
		await runAlarmAfterRestart(driverHost);
		await expectCompleted(driverHost, targetHost);
	});

	it("rolls back a reserved transfer after every object is aborted", async () => {
		const { driverHost, targetHost } = await interruptedTransfer("reserved");
		await abortAllDurableObjects();
		await runAlarmAfterRestart(driverHost);
		await expectRolledBack(driverHost, targetHost);
	});

	it("completes a held transfer after every object is aborted, leaving no entry held", async () => {
		const { driverHost, targetHost } = await interruptedTransfer("held");
		await abortAllDurableObjects();
		await runAlarmAfterRestart(driverHost);
		await expectCompleted(driverHost, targetHost);
	});

	it("resuming a finished transfer again changes nothing", async () => {
		const { driverHost, targetHost, driver, transferId } = await interruptedTransfer("lifted");
		await evictDurableObject(driver);
		await runAlarmAfterRestart(driverHost);
		const again = await pciDevice(driverHost, driverBdf).transferMapping({
			virtualAddress,
			transferId,
			targetHostId: targetHost,
			targetBdf,
		});
		expect(again).toMatchObject({ transferId, mappingVersion: 2, to: { vfIndex: 0 } });
		await expectCompleted(driverHost, targetHost);
	});
});

describe("reservations on the target device", () => {
	/** Lets the target's reservation leases run out, then runs its alarm. */
	async function expireReservations(targetHost: string) {
		const target = pciDeviceStub(targetHost, targetBdf);
		await runInDurableObject(target, (_instance, state) => {
			state.storage.sql.exec("UPDATE slots SET reserved_until_ms = 0 WHERE state = 'reserved'");
		});
		await runInDurableObject(target, (instance: PciDevice) => instance.alarm());
	}

	it("releases a reservation that landed after its transfer was rolled back", async () => {
		const { driverHost, targetHost, driver, transferId } = await interruptedTransfer("reserving");
		await evictDurableObject(driver);
		await runAlarmAfterRestart(driverHost);
		await pciDevice(targetHost, targetBdf).reserveVf({
			allocationId: transferId,
			vmId: `vm-rec-${driverHost}`,
			virtualAddress,
			ownerHostId: driverHost,
			ownerBdf: driverBdf,
			minSize: "0x4000",
		});
		expect((await deviceOf(targetHost, targetBdf)).body.vfsInUse).toBe(1);
		await expireReservations(targetHost);
		await expectRolledBack(driverHost, targetHost);
	});

	it("activates a reservation whose transfer was lifted, and the transfer still completes", async () => {
		const { driverHost, targetHost, driver } = await interruptedTransfer("lifted");
		await expireReservations(targetHost);
		const targetEvents = await (
			await admin("GET", `${devicePath(targetHost, targetBdf)}/events`)
		).json();
		expect((targetEvents as { events: Array<{ type: string }> }).events[0]?.type).toBe(
			"vf.activated",
		);
		await evictDurableObject(driver);
		await runAlarmAfterRestart(driverHost);
		await expectCompleted(driverHost, targetHost);
	});
});

describe("translate during a hold", () => {
	it("shows the entry as held in the translation table while the hold lasts", async () => {
		const { driverHost, driver } = await interruptedTransfer("held");
		await runInDurableObject(driver, (_instance, state) => state.storage.deleteAlarm());
		expect((await tableOf(driverHost, driverBdf))[0]).toMatchObject({ state: "held", version: 1 });
		await evictDurableObject(driver);
		await runAlarmAfterRestart(driverHost);
		expect((await tableOf(driverHost, driverBdf))[0]).toMatchObject({
			state: "active",
			version: 2,
		});
	});

	it("waits for the lift by the hold's lease and answers with the new function's address", async () => {
		const { driverHost, targetHost } = await interruptedTransfer("held");
		const { status, body } = await translate(driverHost, driverBdf, "0x7f0000000010");
		expect(status).toBe(200);
		expect(body).toMatchObject({
			physicalAddress: "0x900000010",
			hostId: targetHost,
			bdf: targetBdf,
			mappingVersion: 2,
		});
	});

	it("answers 503 function_on_hold with Retry-After when the lift does not come within 2 s", async () => {
		const { driverHost, driver } = await interruptedTransfer("held");
		await runInDurableObject(driver, (_instance, state) => state.storage.deleteAlarm());
		const { status, body, response } = await translate(driverHost, driverBdf, virtualAddress);
		expect(status).toBe(503);
		expect(body.code).toBe("function_on_hold");
		expect(Number(response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
		await evictDurableObject(driver);
		await runAlarmAfterRestart(driverHost);
		expect((await tableOf(driverHost, driverBdf))[0]).toMatchObject({
			state: "active",
			version: 2,
		});
	});
});
