// Proves the demo's real host (what `npm run dev` adds where QEMU is
// installed): host qemu-1 with VM qemu-vm-1 in real QEMU under the real agent,
// its key kept 0600, the console answering through the edge, and the VM ended
// with the demo. Does not start `npm run dev` itself.
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { startDemoQemuHost } from "../../scripts/demo-qemu.mjs";
import { eventually, openConsole, qemuAvailable, qemuPids } from "./support/qemu-host";

const demoDir = await mkdtemp(join(tmpdir(), "edgevisor-demo-qemu-"));
afterAll(async () => {
	// A failed run must not leave its VM behind (VMs outlive their agents by design).
	for (const pid of await qemuPids("qemu-vm-1")) process.kill(pid, "SIGKILL");
	await rm(demoDir, { recursive: true, force: true });
});

describe.skipIf(!qemuAvailable())("the demo's real QEMU host", () => {
	it("runs qemu-vm-1 in QEMU, answers its console with the kept key, and stops it with the demo", async () => {
		const started = await startDemoQemuHost({
			baseUrl: inject("baseUrl"),
			adminToken: inject("adminToken"),
			demoDir,
			log: () => {},
		});
		expect(started.note).toBeUndefined();
		expect(started.hint).toMatch(
			/npx edgevisor connect .* --domain edge-lab --vm qemu-vm-1 --key-file /,
		);
		const keyFile = join(demoDir, "keys", "qemu-vm-1.key");
		expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
		const key = (await readFile(keyFile, "utf8")).trim();
		await eventually(
			() => qemuPids("qemu-vm-1"),
			(pids) => pids.length === 1,
			20_000,
			"the demo VM",
		);
		const console = await openConsole("edge-lab", "qemu-vm-1", key);
		await console.waitForPrompt();
		console.type("echo demo-$((20+3))");
		await console.waitFor(/demo-23/);
		console.close();
		await started.stop();
		await eventually(
			() => qemuPids("qemu-vm-1"),
			(pids) => pids.length === 0,
			10_000,
			"the VM stopped",
		);
	});
});
