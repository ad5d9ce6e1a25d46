import type { EventEmitter } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { startSimulator } from "../../agent/simulator.mjs";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { seedDemoFleet } from "../../scripts/demo-fleet.mjs";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { startWranglerDev, writeSecretsFile } from "../../scripts/wrangler-dev.mjs";
import { withTimeout } from "../support/inbox";
import { provideChromium } from "./chromium";

declare module "vitest" {
	export interface ProvidedContext {
		consoleBaseUrl: string;
		consoleAdminToken: string;
		/** The demo VMs' keys by VM id, as `npm run dev` keeps them in .wrangler/demo/keys. */
		demoVmKeys: Record<string, string>;
		/** The demo fleet's host ids (tests may add hosts of their own). */
		demoHostIds: string[];
		/** The Chromium to drive; empty when none could be had (the tests are skipped). */
		chromiumPath: string;
	}
}

/** Resolves once `hostCount` distinct simulated agents have opened their control channel. */
function agentsConnected(events: EventEmitter, hostCount: number): Promise<void> {
	const connected = new Set<string>();
	return new Promise((resolve) => {
		const listener = (event: { type: string; hostId?: string }) => {
			if (event.type === "connected" && event.hostId) connected.add(event.hostId);
			if (connected.size < hostCount) return;
			events.off("event", listener);
			resolve();
		};
		events.on("event", listener);
	});
}

/**
 * Starts what `npm run dev` shows, on fresh state: a real `wrangler dev`
 * (whose `[build]` step bundles the console), the demo fleet seeded through
 * the public API, and the simulated host agents for it (connected before the
 * tests start), living for the whole browser project.
 */
export default async function setup(project: TestProject) {
	const chromiumPath = provideChromium();
	if (!chromiumPath) {
		const why = "no Chromium here: install Debian's chromium or set CHROMIUM_PATH";
		// CI installs it (.ci/run), so there a missing browser is a failure, not a skip.
		if (process.env.CI && process.env.CI !== "false") throw new Error(`browser tests: ${why}`);
		console.warn(`browser tests skipped: ${why}`);
		project.provide("chromiumPath", "");
		return;
	}
	project.provide("chromiumPath", chromiumPath);
	const workDir = await mkdtemp(join(tmpdir(), "edgevisor-browser-"));
	const adminToken = `browser-${crypto.randomUUID()}`;
	const envFile = await writeSecretsFile(workDir, adminToken);
	const server = await startWranglerDev({
		envFile,
		persistTo: join(workDir, "state"),
	});
	const { fleet, notes } = await seedDemoFleet({
		baseUrl: server.baseUrl,
		adminToken,
		demoDir: join(workDir, "demo"),
	});
	if (notes.length > 0) throw new Error(`demo fleet seeded with notes: ${notes.join("; ")}`);
	const simulator = startSimulator({
		baseUrl: server.baseUrl,
		hosts: fleet.hosts,
		vms: fleet.vms,
		behaviour: { validationLatencyMs: [100, 400], migrationTimeScale: 0.5 },
	});
	// The fleet view shows each agent's channel: the tests start with all of them open.
	try {
		await withTimeout(
			agentsConnected(simulator.events, fleet.hosts.length),
			30_000,
			"the simulated agents did not all connect",
		);
	} catch (error) {
		simulator.stop();
		await server.stop();
		throw error;
	}
	const keys = await Promise.all(
		fleet.vms.map(async (vm: { vmId: string; keyFile: string }) => [
			vm.vmId,
			(await readFile(vm.keyFile, "utf8")).trim(),
		]),
	);
	project.provide("consoleBaseUrl", server.baseUrl);
	project.provide("consoleAdminToken", adminToken);
	project.provide("demoVmKeys", Object.fromEntries(keys));
	project.provide(
		"demoHostIds",
		fleet.hosts.map((host: { hostId: string }) => host.hostId),
	);
	return async () => {
		simulator.stop();
		await server.stop();
		await rm(workDir, { recursive: true, force: true });
	};
}
