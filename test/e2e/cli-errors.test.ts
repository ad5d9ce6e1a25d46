// Proves the CLI's failure contract that needs no server resource: every
// failure is one `edgevisor: …` line on stderr with a meaningful exit code
// (2 usage, 3 no credentials, 7 unreachable), and nothing on stdout.
// Problems answered by the server's resource routes are in cli.test.ts.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { linesOf, runCli } from "./cli-run";

const baseUrl = inject("baseUrl");

describe("edgevisor CLI failures", () => {
	it("exits 3 with one line when an admin command has no token", async () => {
		const run = await runCli(["--url", baseUrl, "hosts", "list"]);
		expect(run.exitCode).toBe(3);
		expect(linesOf(run.stderr)).toEqual([
			"edgevisor: no admin token: pass --token or set EDGEVISOR_TOKEN",
		]);
		expect(run.stdout).toBe("");
	});

	it("exits 7 with one line when the server cannot be reached", async () => {
		const run = await runCli(["hosts", "list"], {
			EDGEVISOR_URL: "http://127.0.0.1:9",
			EDGEVISOR_TOKEN: "any",
		});
		expect(run.exitCode).toBe(7);
		expect(linesOf(run.stderr)).toHaveLength(1);
		expect(run.stderr).toMatch(/^edgevisor: unreachable: cannot reach http:\/\/127\.0\.0\.1:9/);
	});

	it("exits 2 when a required option is missing", async () => {
		const run = await runCli(["migrate", "--vm", "web-1"], { EDGEVISOR_TOKEN: "any" });
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain("required option '--to <hostId>' not specified");
		expect(run.stdout).toBe("");
	});

	it("exits 2 when an option value is malformed", async () => {
		const run = await runCli(
			["vms", "enrol", "--host", "h", "--vm", "v", "--memory-mib", "lots", "--vcpus", "2"],
			{ EDGEVISOR_TOKEN: "any" },
		);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain("expected a positive whole number");
	});

	it("exits 2 with one line when the key file cannot be read", async () => {
		const missing = join(await mkdtemp(join(tmpdir(), "edgevisor-cli-")), "absent.key");
		const run = await runCli([
			"--url",
			baseUrl,
			"connect",
			"--domain",
			"d",
			"--vm",
			"v",
			"--key-file",
			missing,
		]);
		expect(run.exitCode).toBe(2);
		expect(linesOf(run.stderr)).toEqual([`edgevisor: cannot read key file ${missing}`]);
	});

	it("exits 0 and lists the exit codes on --help", async () => {
		const run = await runCli(["--help"]);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toContain("Exit codes: 0 ok");
	});
});
