// Proves that `edgevisor vms rotate-key` keeps the demo's key file working:
// on a terminal, with the demo's key file of the VM present, it offers to
// write the new key there and records its version beside it (so the demo's
// next start sees a current file); answered "n", it prints the key instead.
// The demo noticing a key rotated behind its back is in demo.test.ts.
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createHost, enrolVm, requestSession } from "./agent-sim-support";
import { cliCommandLine, type LiveProcess, runInTerminal } from "./cli-run";

const adminEnv = { EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") };

const terminals: LiveProcess[] = [];
afterEach(() => {
	for (const terminal of terminals.splice(0)) terminal.kill("SIGKILL");
});

/** A VM whose key sits in a demo-like folder (`.wrangler/demo/keys`) under a fresh directory. */
async function vmWithDemoKeyFile() {
	const host = await createHost();
	const vm = await enrolVm(host.hostId);
	const cwd = await mkdtemp(join(tmpdir(), "edgevisor-rotate-"));
	const keysDir = join(cwd, ".wrangler", "demo", "keys");
	await mkdir(keysDir, { recursive: true });
	const keyFile = join(keysDir, `${vm.vmId}.key`);
	await writeFile(keyFile, `${vm.key}\n`, { mode: 0o600 });
	await writeFile(join(keysDir, "key-versions.json"), JSON.stringify({ [`${vm.vmId}.key`]: 1 }));
	return { host, vm, cwd, keysDir, keyFile };
}

/** `vms rotate-key` in a terminal in `cwd`, answering the offer with `answer`. */
async function rotateInTerminal(cwd: string, hostId: string, vmId: string, answer: string) {
	const terminal = runInTerminal(
		`cd '${cwd}' && ${cliCommandLine(["vms", "rotate-key", "--host", hostId, "--vm", vmId])}`,
		adminEnv,
	);
	terminals.push(terminal);
	await terminal.waitForOutput("where the demo keeps");
	terminal.type(`${answer}\r`);
	expect(await terminal.exited).toBe(0);
	return terminal.output();
}

describe("edgevisor vms rotate-key and the demo's key files", () => {
	it("offers the demo's key file on a terminal, writes the new key there and records its version", async () => {
		const { host, vm, cwd, keysDir, keyFile } = await vmWithDemoKeyFile();
		const output = await rotateInTerminal(cwd, host.hostId, vm.vmId, "y");
		expect(output).toContain("written to");
		const newKey = (await readFile(keyFile, "utf8")).trim();
		expect(newKey).not.toBe(vm.key);
		expect(output).not.toContain(newKey);
		const versions = JSON.parse(await readFile(join(keysDir, "key-versions.json"), "utf8"));
		expect(versions).toEqual({ [`${vm.vmId}.key`]: 2 });
		expect((await requestSession(host.domain, vm.vmId, newKey)).status).toBe(201);
	});

	it("prints the key and leaves the file alone when the offer is declined", async () => {
		const { host, vm, cwd, keyFile } = await vmWithDemoKeyFile();
		const output = await rotateInTerminal(cwd, host.hostId, vm.vmId, "n");
		expect((await readFile(keyFile, "utf8")).trim()).toBe(vm.key);
		const printed = output.match(/\bkey\b\W+([A-Za-z0-9_-]{43})/)?.[1];
		expect(printed).toBeDefined();
		expect(printed).not.toBe(vm.key);
	});
});
