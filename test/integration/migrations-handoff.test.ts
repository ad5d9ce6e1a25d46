// Proves what migration.completed does and that it survives interruption:
// the SP-table row moves from the source to the target SP with the same key
// hash and version, the placement follows, open sessions are carried to the
// target (migrations-carry.test.ts), and a broadcast then finds the VM there; a handoff
// interrupted after any stored step finishes from that step when the
// object is aborted and its alarm runs. Function transfer is in
// migrations-functions.test.ts.
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { VmRow } from "../../durable-objects/service-processor";
import type { VirtualMachine } from "../../durable-objects/virtual-machine";
import { openSession, requestSession } from "../support/console";
import { admin, newClientAddress } from "../support/http";
import { getMigration, migratingVm, sendWebhook } from "../support/migration";
import { serviceProcessor, virtualMachine, virtualMachineStub } from "../support/objects";

/** Simulates an object that stopped after persisting `step` (and, for later steps, doing the earlier ones). */
async function interruptAt(vmId: string, migrationId: string, step: string, row: VmRow) {
	await runInDurableObject(
		virtualMachineStub(vmId) as DurableObjectStub<VirtualMachine>,
		async (_, state) => {
			state.storage.sql.exec(
				"UPDATE migrations SET handoff = ? WHERE migration_id = ?",
				JSON.stringify({ step, row }),
				migrationId,
			);
			await state.storage.setAlarm(Date.now() + 60_000);
		},
	);
}

describe("migration.completed", () => {
	it("moves the row to the target with the same key and version, then completes", async () => {
		const { vmId, source, target, migrationId } = await migratingVm();
		const before = await serviceProcessor(source.hostId).exportVm(vmId);
		const response = await sendWebhook(source, {
			type: "migration.completed",
			data: { migrationId },
		});
		expect(response.status).toBe(200);
		const after = await getMigration(migrationId);
		expect(after).toMatchObject({ state: "completed", progress: { percent: 100 } });
		expect(await serviceProcessor(source.hostId).exportVm(vmId)).toBeNull();
		expect(await serviceProcessor(target.hostId).exportVm(vmId)).toEqual(before);
		expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: target.hostId });
	});

	it("carries the VM's sessions to the target and lets a broadcast reach the target", async () => {
		const { vmId, key, domain, source, target, migrationId } = await migratingVm();
		const opened = await openSession({ domain, vm: vmId, key });
		expect(opened.hostId).toBe(source.hostId);
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		const session = (await (await admin("GET", `/v1/sessions/${opened.sessionId}`)).json()) as {
			state: string;
			closeReason: string;
		};
		expect(session).toMatchObject({
			state: "vm_pending",
			closeReason: null,
			vmHostId: target.hostId,
		});
		const reopened = await openSession({ domain, vm: vmId, key });
		expect(reopened.hostId).toBe(target.hostId);
	});

	it("takes the VM's key lockouts along: a locked-out address stays out on the target", async () => {
		const { vmId, key, domain, source, migrationId } = await migratingVm();
		const attacker = newClientAddress();
		for (let attempt = 0; attempt < 6; attempt++) {
			await requestSession({ domain, vm: vmId, key: "wrong" }, {}, attacker);
		}
		await sendWebhook(source, { type: "migration.completed", data: { migrationId } });
		expect(await getMigration(migrationId)).toMatchObject({ state: "completed" });
		const locked = await requestSession({ domain, vm: vmId, key }, {}, attacker);
		expect(locked.status).toBe(429);
		expect((await locked.json()) as { code: string }).toMatchObject({ code: "too_many_attempts" });
		const owner = await requestSession({ domain, vm: vmId, key }, {}, newClientAddress());
		expect(owner.status).toBe(201);
	});

	it("is applied once when delivered twice under different webhook ids", async () => {
		const { vmId, source, target, migrationId } = await migratingVm();
		const completed = { type: "migration.completed", data: { migrationId } };
		const [first, second] = await Promise.all([
			sendWebhook(source, completed),
			sendWebhook(source, completed),
		]);
		expect([first?.status, second?.status]).toEqual([200, 200]);
		expect((await getMigration(migrationId)).state).toBe("completed");
		expect(await serviceProcessor(target.hostId).exportVm(vmId)).not.toBeNull();
		expect(await serviceProcessor(source.hostId).exportVm(vmId)).toBeNull();
	});
});

describe("an interrupted handoff", () => {
	for (const step of ["adopt", "move", "release", "functions"]) {
		it(`resumes from the stored step "${step}" after the object is aborted`, async () => {
			const { vmId, source, target, migrationId } = await migratingVm();
			const row = await serviceProcessor(source.hostId).exportVm(vmId);
			if (!row) throw new Error("fixture VM is enrolled on the source");
			// Do what the steps before `step` would have done, as the crashed run had.
			if (step !== "adopt") await serviceProcessor(target.hostId).adoptVm(row);
			if (step === "release" || step === "functions") {
				await virtualMachine(vmId).movePlacement(source.hostId, target.hostId);
			}
			if (step === "functions")
				await serviceProcessor(source.hostId).releaseVm(vmId, "vm_migrated");
			await interruptAt(vmId, migrationId, step, row);
			await abortAllDurableObjects();
			expect(await runDurableObjectAlarm(virtualMachineStub(vmId))).toBe(true);
			expect((await getMigration(migrationId)).state).toBe("completed");
			expect(await serviceProcessor(source.hostId).exportVm(vmId)).toBeNull();
			expect(await serviceProcessor(target.hostId).exportVm(vmId)).toEqual(row);
			expect(await virtualMachine(vmId).getPlacement()).toEqual({ vmId, hostId: target.hostId });
		});
	}

	it("keeps the placement on the source while both tables hold the row", async () => {
		const { vmId, key, domain, source, target, migrationId } = await migratingVm();
		const row = await serviceProcessor(source.hostId).exportVm(vmId);
		if (!row) throw new Error("fixture VM is enrolled on the source");
		await serviceProcessor(target.hostId).adoptVm(row);
		await interruptAt(vmId, migrationId, "move", row);
		await abortAllDurableObjects();
		// Two tables hold the row; the placement breaks the tie for the source.
		const opened = await openSession({ domain, vm: vmId, key });
		expect(opened.hostId).toBe(source.hostId);
	});
});
