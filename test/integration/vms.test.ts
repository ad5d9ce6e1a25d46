// Proves the service-processor table routes: enrolment with a key shown once
// and stored only as a hash, updates, rotation, removal, listing, the
// one-table-per-VM-id rule, and every refusal leaving the table unchanged.
// Does not cover sessions closed by rotation/removal (sessions tests).
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../shared/crypto";
import { createHost, enrolVm, unique } from "../support/console";
import { admin, call, problemOf } from "../support/http";
import { serviceProcessorStub } from "../support/objects";

const vmList = async (hostId: string) =>
	(
		(await (await admin("GET", `/v1/hosts/${hostId}/vms`)).json()) as {
			vms: Array<Record<string, unknown>>;
		}
	).vms;

const storedRows = (hostId: string) =>
	runInDurableObject(serviceProcessorStub(hostId), (_instance, state) =>
		state.storage.sql.exec("SELECT * FROM vms").toArray(),
	);

describe("PUT /v1/hosts/{hostId}/vms/{vmId}", () => {
	it("enrols a VM with keyVersion 1 and a 32-byte base64url key", async () => {
		const host = await createHost();
		const vmId = unique("vm");
		const response = await admin("PUT", `/v1/hosts/${host.hostId}/vms/${vmId}`, {
			memoryMiB: 4096,
			vcpus: 2,
		});
		expect(response.status).toBe(201);
		expect(await response.json()).toEqual({
			vmId,
			hostId: host.hostId,
			keyVersion: 1,
			key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
		});
	});

	it("stores only the key's SHA-256 hash", async () => {
		const host = await createHost();
		const { vmId, key } = await enrolVm(host.hostId);
		const [row] = await storedRows(host.hostId);
		expect(row).toMatchObject({ vm_id: vmId, key_hash: await sha256Hex(key) });
		expect(JSON.stringify(row)).not.toContain(key);
	});

	it("updates an enrolled VM with 200, no key, and the same key hash", async () => {
		const host = await createHost();
		const { vmId } = await enrolVm(host.hostId);
		const [before] = await storedRows(host.hostId);
		const response = await admin("PUT", `/v1/hosts/${host.hostId}/vms/${vmId}`, {
			memoryMiB: 8192,
			vcpus: 4,
		});
		expect(response.status).toBe(200);
		const body = (await response.json()) as Record<string, unknown>;
		expect(body).toMatchObject({
			vmId,
			hostId: host.hostId,
			keyVersion: 1,
			memoryMiB: 8192,
			vcpus: 4,
		});
		expect(body).not.toHaveProperty("key");
		const [after] = await storedRows(host.hostId);
		expect(after?.key_hash).toBe(before?.key_hash);
	});

	it("refuses a VM id enrolled on another host with vm_exists and changes neither table", async () => {
		const first = await createHost();
		const second = await createHost();
		const { vmId } = await enrolVm(first.hostId);
		const response = await admin("PUT", `/v1/hosts/${second.hostId}/vms/${vmId}`, {
			memoryMiB: 1,
			vcpus: 1,
		});
		expect(response.status).toBe(409);
		expect((await problemOf(response)).code).toBe("vm_exists");
		expect(await vmList(second.hostId)).toEqual([]);
		expect(await vmList(first.hostId)).toEqual([
			expect.objectContaining({ vmId, memoryMiB: 4096 }),
		]);
	});

	it("lets exactly one of two hosts enrol the same VM id concurrently", async () => {
		const [first, second] = await Promise.all([createHost(), createHost()]);
		const vmId = unique("vm");
		const statuses = await Promise.all(
			[first, second].map(
				async (host) =>
					(await admin("PUT", `/v1/hosts/${host.hostId}/vms/${vmId}`, { memoryMiB: 1, vcpus: 1 }))
						.status,
			),
		);
		expect(statuses.sort()).toEqual([201, 409]);
	});

	it("refuses enrolment on an unknown host with host_not_found", async () => {
		const vmId = unique("vm");
		const response = await admin("PUT", `/v1/hosts/${unique("host")}/vms/${vmId}`, {
			memoryMiB: 1,
			vcpus: 1,
		});
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("host_not_found");
		// The VM id stays free: another host can enrol it.
		const host = await createHost();
		expect(
			(await admin("PUT", `/v1/hosts/${host.hostId}/vms/${vmId}`, { memoryMiB: 1, vcpus: 1 }))
				.status,
		).toBe(201);
	});

	it("refuses a bad body with invalid_request naming the field and enrols nothing", async () => {
		const host = await createHost();
		const response = await admin("PUT", `/v1/hosts/${host.hostId}/vms/${unique("vm")}`, {
			memoryMiB: -1,
			vcpus: 1,
		});
		expect(response.status).toBe(400);
		const problem = await problemOf(response);
		expect(problem.code).toBe("invalid_request");
		expect(problem.detail).toMatch(/^body\.memoryMiB: /);
		expect(await vmList(host.hostId)).toEqual([]);
	});

	it("refuses an invalid VM id with invalid_request", async () => {
		const host = await createHost();
		const response = await admin("PUT", `/v1/hosts/${host.hostId}/vms/bad%20id`, {
			memoryMiB: 1,
			vcpus: 1,
		});
		expect(response.status).toBe(400);
		const problem = await problemOf(response);
		expect(problem.code).toBe("invalid_request");
		expect(problem.detail).toMatch(/^path\.vmId: /);
		expect(await vmList(host.hostId)).toEqual([]);
	});

	it("refuses enrolment without the admin token and enrols nothing", async () => {
		const host = await createHost();
		const response = await call(`/v1/hosts/${host.hostId}/vms/${unique("vm")}`, {
			method: "PUT",
			headers: { "Content-Type": "application/json", Authorization: "Bearer wrong" },
			body: JSON.stringify({ memoryMiB: 1, vcpus: 1 }),
		});
		expect(response.status).toBe(401);
		expect((await problemOf(response)).code).toBe("unauthorized");
		expect(await vmList(host.hostId)).toEqual([]);
	});
});

describe("POST /v1/hosts/{hostId}/vms/{vmId}/rotate-key", () => {
	it("returns a new key with the next version and replaces the stored hash", async () => {
		const host = await createHost();
		const { vmId, key } = await enrolVm(host.hostId);
		const response = await admin("POST", `/v1/hosts/${host.hostId}/vms/${vmId}/rotate-key`);
		expect(response.status).toBe(200);
		const rotated = (await response.json()) as { keyVersion: number; key: string };
		expect(rotated).toEqual({ keyVersion: 2, key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
		expect(rotated.key).not.toBe(key);
		const [row] = await storedRows(host.hostId);
		expect(row).toMatchObject({ key_version: 2, key_hash: await sha256Hex(rotated.key) });
	});

	it("answers an unknown VM with vm_not_found", async () => {
		const host = await createHost();
		const response = await admin("POST", `/v1/hosts/${host.hostId}/vms/${unique("vm")}/rotate-key`);
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("vm_not_found");
	});

	it("answers an unknown host with host_not_found", async () => {
		const response = await admin(
			"POST",
			`/v1/hosts/${unique("host")}/vms/${unique("vm")}/rotate-key`,
		);
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("host_not_found");
	});

	it("refuses rotation without the admin token and keeps the key", async () => {
		const host = await createHost();
		const { vmId, key } = await enrolVm(host.hostId);
		const response = await call(`/v1/hosts/${host.hostId}/vms/${vmId}/rotate-key`, {
			method: "POST",
		});
		expect(response.status).toBe(401);
		const [row] = await storedRows(host.hostId);
		expect(row).toMatchObject({ key_version: 1, key_hash: await sha256Hex(key) });
	});
});

describe("DELETE /v1/hosts/{hostId}/vms/{vmId}", () => {
	it("removes the VM and frees its id for another host", async () => {
		const host = await createHost();
		const { vmId } = await enrolVm(host.hostId);
		expect((await admin("DELETE", `/v1/hosts/${host.hostId}/vms/${vmId}`)).status).toBe(204);
		expect(await vmList(host.hostId)).toEqual([]);
		const other = await createHost();
		expect(
			(await admin("PUT", `/v1/hosts/${other.hostId}/vms/${vmId}`, { memoryMiB: 1, vcpus: 1 }))
				.status,
		).toBe(201);
	});

	it("answers an unknown VM with vm_not_found", async () => {
		const host = await createHost();
		const response = await admin("DELETE", `/v1/hosts/${host.hostId}/vms/${unique("vm")}`);
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("vm_not_found");
	});

	it("refuses removal without the admin token and keeps the VM", async () => {
		const host = await createHost();
		const { vmId } = await enrolVm(host.hostId);
		const response = await call(`/v1/hosts/${host.hostId}/vms/${vmId}`, { method: "DELETE" });
		expect(response.status).toBe(401);
		expect(await vmList(host.hostId)).toHaveLength(1);
	});
});

describe("GET /v1/hosts/{hostId}/vms", () => {
	it("lists the table newest first without keys or hashes", async () => {
		const host = await createHost();
		const first = await enrolVm(host.hostId);
		const second = await enrolVm(host.hostId);
		const vms = await vmList(host.hostId);
		expect(vms.map((vm) => vm.vmId).sort()).toEqual([first.vmId, second.vmId].sort());
		for (const vm of vms) {
			expect(Object.keys(vm).sort()).toEqual([
				"enrolledAt",
				"keyVersion",
				"memoryMiB",
				"vcpus",
				"vmId",
			]);
		}
		expect(JSON.stringify(vms)).not.toContain(first.key);
	});

	it("answers an unknown host with host_not_found", async () => {
		const response = await admin("GET", `/v1/hosts/${unique("host")}/vms`);
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("host_not_found");
	});
});
