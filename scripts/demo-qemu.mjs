// @ts-check
// The demo's one real host: where `qemu-system-x86_64` is present, `npm run
// dev` adds host `qemu-1` (domain edge-lab) running VM `qemu-vm-1` in real
// QEMU under the real agent (`edgevisor-agent qemu`, in this process). Its
// secrets and key are kept in `.wrangler/demo/` like the rest of the demo's;
// the VM stops with the demo.
// Where QEMU is missing it says so in one line and the demo goes on simulated.
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { startQemuAgent } from "../agent/qemu-agent.mjs";
import { describeEvent } from "../agent/simulator.mjs";
import { createApiClient } from "../cli/api.mjs";
import { writeSecretFile } from "../cli/output.mjs";
import { enrolDemoVm, fileExists } from "./demo-fleet.mjs";
import { buildTestGuest } from "./test-guest.mjs";

const hostId = "qemu-1";
const vmId = "qemu-vm-1";
const domain = "edge-lab";
const vmMemoryMiB = 256;

/**
 * @param {{baseUrl: string, adminToken: string, demoDir: string, log: (line: string) => void}} options
 * @returns {Promise<{hint: string, stop: () => Promise<void>} | {note: string}>}
 */
export async function startDemoQemuHost({ baseUrl, adminToken, demoDir, log }) {
	try {
		await promisify(execFile)("qemu-system-x86_64", ["--version"]);
	} catch {
		return {
			note: "no qemu-system-x86_64 here: the demo runs simulated hosts only (apt-get install qemu-system-x86 adds a real VM)",
		};
	}
	try {
		const api = createApiClient({ baseUrl, token: adminToken });
		const hostDir = join(demoDir, hostId);
		const hostFile = join(demoDir, `${hostId}.json`);
		const keyFile = join(demoDir, "keys", `${vmId}.key`);
		await mkdir(join(hostDir, "vms"), { recursive: true, mode: 0o700 });
		await mkdir(join(demoDir, "keys"), { recursive: true, mode: 0o700 });

		const { status, body } = await api.request("PUT", `/v1/hosts/${hostId}`, {
			// Declared for the record; the agent reports the machine's own facts over them.
			body: {
				domain,
				site: "ams1",
				cpu: { model: "this machine", flags: ["sse2"] },
				memoryMiB: 1024,
				hypervisor: { name: "qemu", version: "0" },
			},
		});
		if (status === 201) await writeSecretFile(hostFile, `${JSON.stringify(body, null, 2)}\n`);
		else if (!(await fileExists(hostFile))) {
			return {
				note: `host ${hostId} exists but its agent secrets are lost; remove .wrangler/ to reset`,
			};
		}

		await enrolDemoVm(api, { hostId, vmId, memoryMiB: vmMemoryMiB, vcpus: 1 }, keyFile, log);

		const guest = await buildTestGuest();
		const vmFile = join(hostDir, "vms", `${vmId}.json`);
		const definition = { vmId, memoryMiB: vmMemoryMiB, vcpus: 1, ...guest };
		if (!(await fileExists(vmFile)))
			await writeFile(vmFile, `${JSON.stringify(definition, null, "\t")}\n`);

		const running = await startQemuAgent(
			{
				url: baseUrl,
				hostFile,
				vmsDir: join(hostDir, "vms"),
				stateDir: join(hostDir, "state"),
				migrationAddress: "127.0.0.1",
				qemu: "qemu-system-x86_64",
				shutdownTimeout: 5,
			},
			(event) => {
				const line = describeEvent(event);
				if (line && /error|refused|FAILED|did not|cannot/.test(line)) log(`agent ${line}`);
			},
		);
		return {
			hint: `  A real VM in QEMU (${running.runtime.accel}) on host ${hostId}:
    npx edgevisor connect --url ${baseUrl} --domain ${domain} --vm ${vmId} --key-file ${relative(process.cwd(), keyFile)}
`,
			// A real agent's VMs outlive it; the demo's VM ends with the demo, so nothing lingers.
			stop: async () => {
				try {
					await running.agent.stop();
				} finally {
					await stopDemoVm(join(hostDir, "state"));
				}
			},
		};
	} catch (error) {
		return {
			note: `the real QEMU host was not started: ${error instanceof Error ? error.message : error}`,
		};
	}
}

/** Ends the QEMU the demo started (SIGTERM: QEMU exits cleanly on it). */
async function stopDemoVm(/** @type {string} */ stateDir) {
	const pid = Number(
		await readFile(join(stateDir, "vms", vmId, "qemu.pid"), "utf8").catch(() => "0"),
	);
	if (pid <= 1) return;
	try {
		process.kill(pid, "SIGTERM");
	} catch {
		// Gone already.
	}
}
