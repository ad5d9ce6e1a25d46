// Proves the fleet directory and the VirtualMachine placement that makes a VM
// id unique across service-processor tables, including after eviction.
// HTTP routes over them are tested with hosts and VMs.

import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fleet, fleetStub, virtualMachine, virtualMachineStub } from "../support/objects";
import { rpcError } from "../support/rpc";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

describe("VM placement", () => {
	it("places a VM on one host and refuses another with vm_exists", async () => {
		const vmId = unique("vm");
		const vm = virtualMachine(vmId);
		await vm.claimPlacement("host-a");
		await vm.claimPlacement("host-a");
		expect(await rpcError(vm.claimPlacement("host-b"))).toMatchObject({ code: "vm_exists" });
		expect(await vm.getPlacement()).toEqual({ vmId, hostId: "host-a" });
	});

	it("lets exactly one of many concurrent claims win", async () => {
		const vm = virtualMachine(unique("vm"));
		const hosts = Array.from({ length: 8 }, (_, index) => `host-${index}`);
		const refusals = await Promise.all(hosts.map((hostId) => rpcError(vm.claimPlacement(hostId))));
		expect(refusals.filter((refusal) => refusal === undefined)).toHaveLength(1);
		expect(refusals.filter((refusal) => refusal !== undefined)).toEqual(
			Array.from({ length: 7 }, () => expect.objectContaining({ code: "vm_exists" })),
		);
	});

	it("keeps placement and attached functions across eviction", async () => {
		const vmId = unique("vm");
		const vm = virtualMachine(vmId);
		await vm.claimPlacement("host-a");
		const fn = { hostId: "host-a", bdf: "0000:03:00.0", vfIndex: 0, virtualAddress: "0x1000" };
		await vm.attachFunction(fn);
		await vm.attachFunction({ ...fn, vfIndex: 2 });
		await evictDurableObject(virtualMachineStub(vmId));
		expect(await vm.getPlacement()).toEqual({ vmId, hostId: "host-a" });
		expect(await vm.listFunctions()).toEqual([{ ...fn, vfIndex: 2 }]);
	});
	it("releases only its own host and moves idempotently", async () => {
		const vmId = unique("vm");
		const vm = virtualMachine(vmId);
		await vm.claimPlacement("host-a");
		await vm.releasePlacement("host-b");
		expect((await vm.getPlacement())?.hostId).toBe("host-a");
		await vm.movePlacement("host-a", "host-c");
		await vm.movePlacement("host-a", "host-c");
		expect((await vm.getPlacement())?.hostId).toBe("host-c");
		expect(await rpcError(vm.movePlacement("host-x", "host-y"))).toMatchObject({
			code: "vm_not_found",
		});
		await vm.releasePlacement("host-c");
		expect(await vm.getPlacement()).toBeNull();
	});
});

describe("fleet directory", () => {
	it("lists hosts by domain, newest first, with updates in place", async () => {
		const domain = unique("dom");
		const [first, second] = [unique("h"), unique("h")];
		await fleet().upsertHost({ hostId: first, domain, site: "par" });
		await fleet().upsertHost({ hostId: second, domain, site: "ams" });
		await fleet().upsertHost({ hostId: first, domain, site: "fra" });
		const hosts = await fleet().listHosts(domain);
		expect(hosts.map((host) => host.hostId).sort()).toEqual([first, second].sort());
		expect(hosts.find((host) => host.hostId === first)?.site).toBe("fra");
		expect((await fleet().listHosts()).length).toBeGreaterThanOrEqual(2);
	});

	it("finds the VM of a migration id minted before ids named their VM, and nothing for unknown ids", async () => {
		const migrationId = crypto.randomUUID();
		await runInDurableObject(fleetStub(), (_instance, state) => {
			state.storage.sql.exec(
				"INSERT INTO migrations (migration_id, vm_id) VALUES (?, 'vm-1')",
				migrationId,
			);
		});
		expect(await fleet().findMigration(migrationId)).toBe("vm-1");
		expect(await fleet().findMigration("unknown")).toBeNull();
	});
});
