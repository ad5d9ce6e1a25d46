// Proves migrations of VMs with SR-IOV virtual functions: the target's free
// VF slots (from team pci's device directory) feed the default policy's
// builtin check, and completion transfers each function to a device on the
// target, so the driver's mapping then translates to the target host.
// The transfer's own hold/lift guarantees are tested by team pci.
import { describe, expect, it } from "vitest";
import { admin } from "../support/http";
import { getMigration, migrationSetup, sendWebhook, startMigration } from "../support/migration";
import { virtualMachine } from "../support/objects";
import { createVf, devicePath, sriov, translate } from "../support/pci";

const bdf = "0000:3b:00.0";
const virtualAddress = "0x7f0000000000";

/** Registers a device on an existing host (keeping the host's domain). */
async function registerDevice(hostId: string, deviceBdf: string) {
	const body = { vendorId: "0x8086", deviceId: "0x1572", sriov };
	const response = await admin("PUT", devicePath(hostId, deviceBdf), body);
	expect(response.status).toBe(201);
}

describe("a VM with a virtual function", () => {
	it("fails at once when the target has no free VF slot", async () => {
		const { vmId, source, target } = await migrationSetup();
		await registerDevice(source.hostId, bdf);
		await createVf(source.hostId, bdf, vmId, virtualAddress);
		const record = await startMigration(vmId, target.hostId);
		expect(record.state).toBe("failed");
		expect(record.failure?.reason).toMatch(/^sriov-functions\/free-vf-slots failed/);
	});

	it("takes its function along: the mapping then translates to the target host", async () => {
		const { vmId, source, target } = await migrationSetup();
		await registerDevice(source.hostId, bdf);
		await registerDevice(target.hostId, bdf);
		await createVf(source.hostId, bdf, vmId, virtualAddress);
		const record = await startMigration(vmId, target.hostId);
		const sriov = record.validationSets.find((set) => set.id === "sriov-functions");
		expect(sriov?.subtasks.map((subtask) => subtask.status)).toEqual(["passed", "running"]);
		const { migrationId } = record;
		const result = { migrationId, subtask: "sriov-functions/vf-quiesce", ok: true };
		await sendWebhook(source, { type: "validation.result", data: result });
		expect((await getMigration(migrationId)).state).toBe("migrating");
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		expect((await getMigration(migrationId)).state).toBe("completed");
		const translated = await translate(source.hostId, bdf, virtualAddress);
		expect(translated.status).toBe(200);
		expect(translated.body.hostId).toBe(target.hostId);
		const [fn] = await virtualMachine(vmId).listFunctions();
		expect(fn).toMatchObject({ hostId: source.hostId, bdf, virtualAddress });
	});
});
