// @ts-check
// Seeds the demo fleet through the public API, idempotently. Secrets the
// server shows only once (agent tokens, webhook secrets, VM keys) are kept in
// `.wrangler/demo/` (0600) so a restart reuses them. A resource whose route
// the server does not have yet (`404 not_found`) is skipped with a note, so
// `npm run dev` works at every stage of the project.
//
// Standalone: `EDGEVISOR_URL=… EDGEVISOR_TOKEN=… node scripts/demo-fleet.mjs`.
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiError, createApiClient, segment } from "../cli/api.mjs";
import { recordedKeyVersion, writeKeyFile } from "../cli/key-files.mjs";
import { writeSecretFile } from "../cli/output.mjs";
import { demoDevices, demoFunctions, demoHosts, demoVms } from "./demo-fleet-data.mjs";

/** @typedef {import("../agent/simulator.mjs").SimulatedHost & {domain: string, site: string}} SeededHost */
/** @typedef {{vmId: string, hostId: string, domain: string, memoryMiB: number, vcpus: number, keyFile: string}} SeededVm */
/** @typedef {{baseUrl: string, hosts: SeededHost[], vms: SeededVm[]}} FleetState */

/** The folder demo secrets live in, next to wrangler's local state. */
export const defaultDemoDir = fileURLToPath(new URL("../.wrangler/demo", import.meta.url));

/** A route the running server does not serve yet (unknown route, not a missing resource). */
const isMissingRoute = (/** @type {unknown} */ error) =>
	error instanceof ApiError && (error.code === "not_found" || error.code === "method_not_allowed");

/**
 * @param {{baseUrl: string, adminToken: string, demoDir?: string, log?: (line: string) => void}} options
 * @returns {Promise<{fleetFile: string, fleet: FleetState, notes: string[]}>}
 */
export async function seedDemoFleet({
	baseUrl,
	adminToken,
	demoDir = defaultDemoDir,
	log = () => {},
}) {
	const api = createApiClient({ baseUrl, token: adminToken });
	const fleetFile = join(demoDir, "fleet.json");
	const keysDir = join(demoDir, "keys");
	await mkdir(keysDir, { recursive: true, mode: 0o700 });
	const previous = await readPreviousState(fleetFile);
	/** @type {string[]} */
	const notes = [];
	/** @type {Set<string>} */
	const missingRoutes = new Set();

	/**
	 * Runs one seeding step; a missing route disables that kind of resource, any
	 * other problem is noted and seeding goes on.
	 * @template T
	 * @param {string} kind @param {string} what @param {() => Promise<T>} step
	 * @returns {Promise<T | undefined>}
	 */
	const attempt = async (kind, what, step) => {
		if (missingRoutes.has(kind)) return undefined;
		try {
			return await step();
		} catch (error) {
			if (isMissingRoute(error)) {
				missingRoutes.add(kind);
				notes.push(`${kind}: the server has no route for them yet, skipped`);
			} else {
				notes.push(`${what}: ${error instanceof ApiError ? error.toLine() : error}`);
			}
			return undefined;
		}
	};

	/** @type {SeededHost[]} */
	const hosts = [];
	for (const { hostId, domain, site, cpu, memoryMiB, hypervisor } of demoHosts) {
		const known = previous.hosts.find((host) => host.hostId === hostId);
		const seeded = await attempt("hosts", `host ${hostId}`, async () => {
			const { status, body } = await api.request("PUT", `/v1/hosts/${segment(hostId)}`, {
				body: { domain, site, cpu, memoryMiB, hypervisor },
			});
			const secrets = status === 201 ? body : known;
			if (!secrets?.agentToken || !secrets.webhookSecret) {
				notes.push(
					`host ${hostId}: exists but its agent secrets are lost; remove .wrangler/ to reset`,
				);
				return;
			}
			const memoryFreeMiB = memoryMiB - vmsOn(hostId).reduce((sum, vm) => sum + vm.memoryMiB, 0);
			hosts.push({
				hostId,
				domain,
				site,
				agentToken: secrets.agentToken,
				webhookSecret: secrets.webhookSecret,
				facts: { cpu, memoryMiB, memoryFreeMiB, hypervisor },
			});
			return true;
		});
		// A failed call must not lose secrets that were shown only once.
		if (!seeded && known) hosts.push(known);
	}

	/** @type {SeededVm[]} */
	const vms = [];
	for (const { vmId, hostId, memoryMiB, vcpus } of demoVms) {
		const keyFile = join(keysDir, `${vmId}.key`);
		const domain = demoHosts.find((host) => host.hostId === hostId)?.domain ?? "";
		await attempt("VMs", `VM ${vmId}`, async () => {
			await enrolDemoVm(api, { hostId, vmId, memoryMiB, vcpus }, keyFile, log);
			vms.push({ vmId, hostId, domain, memoryMiB, vcpus, keyFile });
		});
	}

	for (const { hostId, bdf, vendorId, deviceId, sriov } of demoDevices) {
		await attempt("PCI devices", `device ${hostId}/${bdf}`, () =>
			api.request("PUT", `/v1/hosts/${segment(hostId)}/pci-devices/${segment(bdf)}`, {
				body: { vendorId, deviceId, sriov },
			}),
		);
	}
	for (const { hostId, bdf, vmId, virtualAddress } of demoFunctions) {
		const devicePath = `/v1/hosts/${segment(hostId)}/pci-devices/${segment(bdf)}`;
		await attempt("virtual functions", `VF of ${vmId} on ${hostId}/${bdf}`, async () => {
			// Creating a VF is not idempotent: the table says whether it exists.
			const table = await api.request("GET", `${devicePath}/translation-table`);
			const entries = /** @type {{virtualAddress: string}[]} */ (table.body?.entries ?? []);
			if (entries.some((entry) => BigInt(entry.virtualAddress) === BigInt(virtualAddress))) return;
			await api.request("POST", `${devicePath}/vfs`, { body: { vmId, virtualAddress } });
		});
	}

	/** @type {FleetState} */
	const fleet = { baseUrl, hosts, vms };
	await writeSecretFile(fleetFile, `${JSON.stringify(fleet, null, "\t")}\n`);
	log(`demo fleet: ${hosts.length} hosts, ${vms.length} VMs (secrets in ${demoDir})`);
	for (const note of notes) log(`  note: ${note}`);
	return { fleetFile, fleet, notes };
}

const vmsOn = (/** @type {string} */ hostId) => demoVms.filter((vm) => vm.hostId === hostId);

/** @returns {Promise<FleetState>} */
async function readPreviousState(/** @type {string} */ path) {
	try {
		return JSON.parse(await readFile(path, "utf8"));
	} catch {
		return { baseUrl: "", hosts: [], vms: [] };
	}
}

/**
 * Enrols a demo VM, keeping its key (shown once) in `keyFile` with its
 * version (cli/key-files.mjs). A VM enrolled in an earlier run whose key file
 * is gone, or whose key was rotated since the file was written (say with
 * `vms rotate-key` and no --key-file), gets a rotated key, and says so.
 * @param {ReturnType<typeof createApiClient>} api
 * @param {{hostId: string, vmId: string, memoryMiB: number, vcpus: number}} vm
 * @param {string} keyFile
 * @param {(line: string) => void} [log]
 */
export async function enrolDemoVm(api, { hostId, vmId, memoryMiB, vcpus }, keyFile, log) {
	const vmPath = `/v1/hosts/${segment(hostId)}/vms/${segment(vmId)}`;
	try {
		const { status, body } = await api.request("PUT", vmPath, { body: { memoryMiB, vcpus } });
		if (status === 201) return await writeKeyFile(keyFile, body, { startRecord: true });
		const missing = !(await fileExists(keyFile));
		const recorded = await recordedKeyVersion(keyFile);
		if (!missing && (recorded === undefined || recorded === body.keyVersion)) return;
		const rotated = await api.request("POST", `${vmPath}/rotate-key`);
		await writeKeyFile(keyFile, rotated.body, { startRecord: true });
		log?.(
			`demo: ${vmId}'s key file was ${missing ? "missing" : "stale (the key was rotated since)"}; rotated its key and wrote ${keyFile}`,
		);
	} catch (error) {
		// Migrated away in an earlier demo run: it lives on, with the same key.
		if (!(error instanceof ApiError && error.code === "vm_exists")) throw error;
	}
}

/** Whether `path` can be read. */
export async function fileExists(/** @type {string} */ path) {
	try {
		await readFile(path);
		return true;
	} catch {
		return false;
	}
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const adminToken = process.env.EDGEVISOR_TOKEN;
	if (!adminToken) {
		console.error("demo-fleet: set EDGEVISOR_TOKEN (npm run dev prints it)");
		process.exit(2);
	}
	const baseUrl = process.env.EDGEVISOR_URL ?? "http://localhost:8787";
	await seedDemoFleet({ baseUrl, adminToken, log: console.log });
}
