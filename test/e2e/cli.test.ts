// Proves the `edgevisor` CLI against the real Worker under `wrangler dev`:
// key files written 0600, the hosts table, `--json`, and server problems printed as one line
// with their exit code. Local failures are in cli-errors.test.ts; the
// interactive console, migrations and devices are not covered here.
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createHost, enrolVm, type SeededHost, uniqueId } from "./agent-sim-support";
import { linesOf, runCli } from "./cli-run";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");
const adminEnv = { EDGEVISOR_URL: baseUrl, EDGEVISOR_TOKEN: adminToken };

let host: SeededHost;
let workDir: string;

beforeAll(async () => {
	host = await createHost();
	workDir = await mkdtemp(join(tmpdir(), "edgevisor-cli-"));
});

/** Writes a VM's key to a key file and returns its path. */
async function keyFileFor(key: string): Promise<string> {
	const path = join(workDir, `${uniqueId("key")}.key`);
	await writeFile(path, `${key}\n`, { mode: 0o600 });
	return path;
}

describe("edgevisor's own version", () => {
	it("prints the package's version with --version, so an operator knows which build is installed", async () => {
		const { version } = JSON.parse(
			await readFile(join(import.meta.dirname, "../../package.json"), "utf8"),
		) as { version: string };
		const run = await runCli(["--version"]);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toBe(`${version}\n`);
	});
});

describe("edgevisor against the Worker", () => {
	it("enrols a VM with its key written only to a 0600 file", async () => {
		const vmId = uniqueId("cli-vm");
		const keyFile = join(workDir, `${vmId}.key`);
		const run = await runCli(
			[
				"vms",
				"enrol",
				"--host",
				host.hostId,
				"--vm",
				vmId,
				"--memory-mib",
				"2048",
				"--vcpus",
				"1",
				"--key-file",
				keyFile,
			],
			adminEnv,
		);
		expect(run.exitCode).toBe(0);
		const key = (await readFile(keyFile, "utf8")).trim();
		expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
		expect(run.stdout).not.toContain(key);
	});

	it("lists hosts of a domain with whether their agent is connected", async () => {
		const run = await runCli(["hosts", "list", "--domain", host.domain], adminEnv);
		expect(run.exitCode).toBe(0);
		const [header, row] = linesOf(run.stdout);
		expect(header).toContain("AGENT");
		expect(header).toContain("MEMORY");
		expect(row).toContain(host.hostId);
		expect(row).toContain("disconnected");
	});

	it("prints the API's JSON with --json", async () => {
		const run = await runCli(["--json", "hosts", "show", host.hostId], adminEnv);
		expect(run.exitCode).toBe(0);
		expect(JSON.parse(run.stdout)).toMatchObject({ hostId: host.hostId, domain: host.domain });
	});

	it("prints key_mismatch as one line and exits 3 when the key is wrong", async () => {
		const { vmId } = await enrolVm(host.hostId);
		const wrongKey = await keyFileFor("A".repeat(43));
		const run = await runCli(
			["connect", "--domain", host.domain, "--vm", vmId, "--key-file", wrongKey],
			adminEnv,
		);
		expect(run.exitCode).toBe(3);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: 403 key_mismatch: /);
	});

	it("prints vm_not_found as one line and exits 4 when no host holds the VM", async () => {
		const run = await runCli(
			[
				"connect",
				"--domain",
				host.domain,
				"--vm",
				uniqueId("absent"),
				"--key-file",
				await keyFileFor("x"),
			],
			adminEnv,
		);
		expect(run.exitCode).toBe(4);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: 404 vm_not_found: /);
	});

	it("prints host_not_found as one line and exits 4 for an unknown host", async () => {
		const run = await runCli(["hosts", "show", uniqueId("absent")], adminEnv);
		expect(run.exitCode).toBe(4);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: 404 host_not_found: /);
	});

	it("prints unauthorized as one line and exits 3 with a wrong admin token", async () => {
		const run = await runCli(["hosts", "list"], { ...adminEnv, EDGEVISOR_TOKEN: "wrong" });
		expect(run.exitCode).toBe(3);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: 401 unauthorized: /);
	});

	it("rotates a VM's key into a 0600 file, after which the old key is refused", async () => {
		const { vmId, key: oldKey } = await enrolVm(host.hostId);
		const keyFile = join(workDir, `${vmId}-rotated.key`);
		const rotated = await runCli(
			["vms", "rotate-key", "--host", host.hostId, "--vm", vmId, "--key-file", keyFile],
			adminEnv,
		);
		expect(rotated.exitCode).toBe(0);
		expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
		expect((await readFile(keyFile, "utf8")).trim()).not.toBe(oldKey);
		const run = await runCli(
			["connect", "--domain", host.domain, "--vm", vmId, "--key-file", await keyFileFor(oldKey)],
			adminEnv,
		);
		expect(run.exitCode).toBe(3);
		expect(run.stderr).toMatch(/^edgevisor: 403 key_mismatch: /);
	});
});
