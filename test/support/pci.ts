import { expect } from "vitest";
import { hostBody } from "./console";
import { admin } from "./http";

/** A unique host id for one test, so storage shared within a file never collides. */
export function uniqueHost(prefix = "pci"): string {
	return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A realistic geometry: 4 VFs from routing id +0x80, stride 2, 16 KiB BARs at 0x8_0000_0000. */
export const sriov = {
	totalVfs: 4,
	firstVfOffset: 0x80,
	vfStride: 2,
	vfBarBase: "0x800000000",
	vfBarSize: "0x4000",
};

/** The device path of `hostId/bdf`. */
export function devicePath(hostId: string, bdf: string): string {
	return `/v1/hosts/${hostId}/pci-devices/${bdf}`;
}

const agentTokens = new Map<string, string>();

/** Creates the host once (through the hosts route) and returns its agent token. */
export async function ensureHost(hostId: string): Promise<string> {
	const known = agentTokens.get(hostId);
	if (known) return known;
	const response = await admin("PUT", `/v1/hosts/${hostId}`, hostBody(`dom-${hostId}`));
	expect(response.status, await response.clone().text()).toBe(201);
	const { agentToken } = (await response.json()) as { agentToken: string };
	agentTokens.set(hostId, agentToken);
	return agentToken;
}

/** Registers a device (creating its host first) and asserts it was created. */
export async function registerDevice(
	hostId: string,
	bdf: string,
	geometry: Partial<typeof sriov> = {},
): Promise<void> {
	// Another fixture (e.g. a migration's) may have created the host already.
	if ((await admin("GET", `/v1/hosts/${hostId}`)).status !== 200) await ensureHost(hostId);
	const response = await admin("PUT", devicePath(hostId, bdf), {
		vendorId: "0x8086",
		deviceId: "0x1572",
		sriov: { ...sriov, ...geometry },
	});
	expect(response.status, await response.clone().text()).toBe(201);
}

/**
 * Enrols `vmId` in the host's SP table unless it is there already: a VF is
 * only created for a VM the host holds. VM ids are unique fleet-wide and
 * storage is shared within a file, so tests name VMs after their host.
 */
export async function ensureVm(hostId: string, vmId: string): Promise<void> {
	const response = await admin("PUT", `/v1/hosts/${hostId}/vms/${vmId}`, {
		memoryMiB: 2048,
		vcpus: 1,
	});
	expect([200, 201], await response.clone().text()).toContain(response.status);
}

/** Creates a VF for `vmId` (enrolled on the host first, see `ensureVm`) and returns the created record. */
export async function createVf(hostId: string, bdf: string, vmId: string, virtualAddress: string) {
	await ensureVm(hostId, vmId);
	const response = await admin("POST", `${devicePath(hostId, bdf)}/vfs`, { vmId, virtualAddress });
	expect(response.status, await response.clone().text()).toBe(201);
	return (await response.json()) as {
		vfIndex: number;
		vfBdf: string;
		baseAddress: string;
		mapping: {
			virtualAddress: string;
			size: string;
			offset: string;
			state: string;
			version: number;
		};
	};
}

/** The translation answer for `virtualAddress` (status and body). */
export async function translate(hostId: string, bdf: string, virtualAddress: string) {
	const response = await admin("POST", `${devicePath(hostId, bdf)}/translate`, { virtualAddress });
	return {
		status: response.status,
		body: (await response.json()) as Record<string, unknown>,
		response,
	};
}

/** Transfers VF `vfIndex` and returns status and body. */
export async function transfer(
	hostId: string,
	bdf: string,
	vfIndex: number,
	targetHostId: string,
	targetBdf: string,
) {
	const response = await admin("POST", `${devicePath(hostId, bdf)}/vfs/${vfIndex}/transfer`, {
		targetHostId,
		targetBdf,
	});
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The translation table entries of a device. */
export async function tableOf(hostId: string, bdf: string) {
	const response = await admin("GET", `${devicePath(hostId, bdf)}/translation-table`);
	expect(response.status).toBe(200);
	return ((await response.json()) as { entries: Array<Record<string, unknown>> }).entries;
}

/** The device record (vfsInUse etc.). */
export async function deviceOf(hostId: string, bdf: string) {
	const response = await admin("GET", devicePath(hostId, bdf));
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
