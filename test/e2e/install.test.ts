// Proves the installable tools (README "Installing the CLI and agent"): `npm run
// build:tools` packs the CLI and the agent into a tarball that installs with an
// empty npm cache and no registry, and the installed `edgevisor` and
// `edgevisor-agent` work from outside the clone against the real Worker. They
// run from under node_modules, where Node refuses to strip types, so any
// shared/*.ts left unbundled fails here.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { uniqueId } from "./agent-sim-support";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");
const projectRoot = join(import.meta.dirname, "../..");

let workDir: string;
let prefix: string;

/** What a finished process printed and how it exited. */
interface Run {
	exitCode: number;
	stdout: string;
	stderr: string;
}

/** Runs `command …args` in `cwd` to its end (at most 60 s). */
function run(
	command: string,
	args: string[],
	cwd: string,
	env: NodeJS.ProcessEnv = process.env,
): Promise<Run> {
	return new Promise((resolve) => {
		execFile(command, args, { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
			const exitCode = error ? (typeof error.code === "number" ? error.code : -1) : 0;
			resolve({ exitCode, stdout, stderr });
		});
	});
}

/**
 * The environment an installed tool gets: a `node` to run it (the pinned one) and
 * nothing of the clone's (no node_modules/.bin, NODE_OPTIONS or EDGEVISOR_*).
 */
function toolEnv(): NodeJS.ProcessEnv {
	// Partial: the generated worker-configuration.d.ts makes the Worker's vars required here.
	const env: Partial<NodeJS.ProcessEnv> = { PATH: dirname(process.execPath), HOME: workDir };
	return env as NodeJS.ProcessEnv;
}

/** Runs an installed tool from the work directory, outside the clone. */
function tool(name: string, args: string[]): Promise<Run> {
	return run(join(prefix, "bin", name), args, workDir, toolEnv());
}

const admin = ["--url", baseUrl, "--token", adminToken];

beforeAll(async () => {
	workDir = await mkdtemp(join(tmpdir(), "edgevisor-install-"));
	prefix = join(workDir, "prefix");
	const built = await run("npm", ["run", "--silent", "build:tools"], projectRoot);
	expect(built, built.stderr).toMatchObject({ exitCode: 0 });
	const tarball = join(projectRoot, built.stdout.trim());
	// An empty cache with --offline: a dependency to fetch would fail the install.
	const installed = await run(
		"npm",
		["install", "--global", "--prefix", prefix, "--cache", join(workDir, "npm-cache")].concat([
			"--offline",
			"--no-audit",
			"--no-fund",
			tarball,
		]),
		workDir,
	);
	expect(installed, installed.stderr).toMatchObject({ exitCode: 0 });
}, 120_000);

afterAll(async () => {
	if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("the installed tools", () => {
	it("are two self-contained files, with no dependencies installed", async () => {
		const packageDir = join(prefix, "lib", "node_modules", "edgevisor-tools");
		expect((await readdir(packageDir)).sort()).toEqual([
			"THIRD_PARTY_LICENSES.md",
			"edgevisor-agent.mjs",
			"edgevisor.mjs",
			"package.json",
		]);
		const manifest = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8"));
		expect(manifest.dependencies).toBeUndefined();
		expect(manifest.engines).toEqual({ node: ">=20" });
	});

	it("print their help", async () => {
		const cli = await tool("edgevisor", ["--help"]);
		expect(cli, cli.stderr).toMatchObject({ exitCode: 0 });
		expect(cli.stdout).toContain("Usage: edgevisor [options] [command]");
		const agent = await tool("edgevisor-agent", ["qemu", "--help"]);
		expect(agent, agent.stderr).toMatchObject({ exitCode: 0 });
		expect(agent.stdout).toContain("Usage: edgevisor-agent qemu [options]");
	});

	it("create a host, run its agent and see it connected", async () => {
		const hostId = uniqueId("install-h");
		const secretsFile = join(workDir, `${hostId}.json`);
		const put = await tool("edgevisor", [
			...["hosts", "put", hostId, "--domain", uniqueId("install-d"), "--site", "fra1"],
			...["--cpu-model", "Intel Xeon Gold 6338", "--memory-mib", "65536"],
			...["--hypervisor", "qemu@9.2.0", "--secrets-file", secretsFile, ...admin],
		]);
		expect(put, put.stderr).toMatchObject({ exitCode: 0 });

		// The simulator holds the control WebSocket: the bundled `ws` at work.
		const agent = spawn(
			join(prefix, "bin", "edgevisor-agent"),
			["--url", baseUrl, "--hosts-file", secretsFile],
			{ cwd: workDir, env: toolEnv() },
		);
		const exited = new Promise((resolve) => agent.once("exit", resolve));
		try {
			let output = "";
			await new Promise<void>((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(`agent printed: ${output}`)), 15_000);
				const append = (chunk: Buffer) => {
					output += chunk.toString();
					if (!output.includes(`[${hostId}] control channel open`)) return;
					clearTimeout(timer);
					resolve();
				};
				agent.stdout.on("data", append);
				agent.stderr.on("data", append);
			});
			const shown = await tool("edgevisor", ["hosts", "show", hostId, "--json", ...admin]);
			expect(shown, shown.stderr).toMatchObject({ exitCode: 0 });
			expect(JSON.parse(shown.stdout)).toMatchObject({ hostId, agentConnected: true });
		} finally {
			agent.kill("SIGTERM");
			await exited;
		}
	});
});
