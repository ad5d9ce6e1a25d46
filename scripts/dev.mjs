// `npm run dev`: the running system on http://localhost:8787 (PORT overrides).
// Writes missing secrets to .dev.vars, starts wrangler dev with local
// SQLite-backed Durable Objects under .wrangler/state, seeds the demo fleet,
// runs the simulated host agents in this process, then prints how to use it.
// Quiet: wrangler's request log and the agents' chatter show only with
// `npm run dev -- --verbose` (or EDGEVISOR_VERBOSE=1); problems always do.
// Any way of stopping it (Ctrl-C, SIGTERM, hang-up, parent gone, wrangler
// exiting) stops everything it started.
//
// Other environment, for the tests (they must not touch the developer's state):
//   EDGEVISOR_DEV_VARS=<file>  the secrets file instead of ./.dev.vars
//   EDGEVISOR_DEV_DIR=<dir>    the local state instead of ./.wrangler: <dir>/state
//                              is wrangler's, <dir>/demo holds the demo's secrets
//   EDGEVISOR_DEMO_QEMU=0      no real QEMU demo host, even where QEMU is installed
import { chmod, mkdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeEvent, startSimulator } from "../agent/simulator.mjs";
import { seedDemoFleet } from "./demo-fleet.mjs";
import { startDemoQemuHost } from "./demo-qemu.mjs";
import { onStopRequest, portProblem, stopProcessGroup } from "./dev-process.mjs";
import { ensureDevVars } from "./dev-vars.mjs";
import { startWranglerDev } from "./wrangler-dev.mjs";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const customDevVars = process.env.EDGEVISOR_DEV_VARS;
const devVarsPath = resolve(customDevVars ?? join(projectRoot, ".dev.vars"));
const devDir = resolve(process.env.EDGEVISOR_DEV_DIR ?? join(projectRoot, ".wrangler"));
const port = Number(process.env.PORT ?? 8787);
const localUrl = `http://localhost:${port}`;
const verbose = process.argv.includes("--verbose") || process.env.EDGEVISOR_VERBOSE === "1";

// A second `npm run dev` would seed the first one's server and steal its agents'
// channels: refuse before anything starts.
const busy = await portProblem(port);
if (busy) {
	console.error(busy);
	process.exit(1);
}
// Request lines drown the banner; an explicit WRANGLER_LOG wins.
if (!verbose) process.env.WRANGLER_LOG ??= "warn";

let server;
let simulator;
let realHost;
let stopping;

/** Stops everything started so far, once however often asked, then exits. */
function stop(exitCode, problem) {
	stopping ??= (async () => {
		if (problem) console.error(problem);
		// A step in flight (wrangler becoming healthy, seeding) finishes first; later ones are skipped.
		await startup;
		// Agents being stopped report their closing channels as "reconnecting": not news.
		simulator?.events.removeAllListeners();
		simulator?.stop();
		if (realHost && "stop" in realHost) {
			await realHost.stop().catch((error) => console.error(`QEMU demo host: ${error.message}`));
		}
		if (server) await stopProcessGroup(server.child.pid);
		console.log("Edgevisor stopped.");
		process.exit(exitCode);
	})();
}

async function start() {
	const vars = await ensureDevVars(devVarsPath);
	// Durable Object storage and the demo's secrets: readable by their owner only.
	const stateDir = join(devDir, "state");
	for (const dir of [devDir, stateDir]) {
		await mkdir(dir, { recursive: true, mode: 0o700 });
		await chmod(dir, 0o700);
	}
	server = await startWranglerDev({
		port,
		inherit: true,
		timeoutMs: 180_000,
		publicOrigin: localUrl,
		persistTo: stateDir,
		// wrangler reads the project's .dev.vars by itself (and only without --env-file).
		envFile: customDevVars && devVarsPath,
	});
	server.child.once("exit", (code, signal) =>
		stop(1, `wrangler dev exited unexpectedly (${signal ?? `code ${code}`})`),
	);
	if (stopping) return;

	// The demo is a convenience: if seeding fails the API still serves.
	let connectHint = "";
	try {
		const { fleet, notes } = await seedDemoFleet({
			baseUrl: localUrl,
			adminToken: vars.ADMIN_TOKEN,
			demoDir: join(devDir, "demo"),
			log: verbose ? console.log : undefined,
		});
		if (!verbose) for (const note of notes) console.error(`demo fleet: ${note}`);
		if (stopping) return;
		simulator = startSimulator({ baseUrl: localUrl, hosts: fleet.hosts, vms: fleet.vms });
		simulator.events.on("event", reportAgentEvent);
		const demoVm = fleet.vms.find((vm) => vm.vmId === "web-1") ?? fleet.vms[0];
		if (demoVm) {
			const keyFile = relative(process.cwd(), demoVm.keyFile);
			connectHint = `
  Connect to a demo VM (Ctrl-] leaves):
    npx edgevisor connect --url ${localUrl} --domain ${demoVm.domain} --vm ${demoVm.vmId} --key-file ${keyFile}
  Fleet: ${fleet.hosts.length} simulated host agents, ${fleet.vms.length} VMs; try
    npx edgevisor hosts list
    npx edgevisor migrate --vm db-2 --to fra1-h1 --dry-run   # risky: most checks would run
    npx edgevisor migrate --vm api-1 --to ams1-h1            # cross-site: agent checks, then the copy
`;
		}
	} catch (error) {
		if (stopping) return;
		console.error(`demo fleet not started: ${error instanceof Error ? error.message : error}`);
	}

	if (process.env.EDGEVISOR_DEMO_QEMU !== "0") {
		realHost = await startDemoQemuHost({
			baseUrl: localUrl,
			adminToken: vars.ADMIN_TOKEN,
			demoDir: join(devDir, "demo"),
			log: console.error,
		});
		if (stopping) return;
		if ("note" in realHost) console.log(realHost.note);
		else connectHint += realHost.hint;
	}

	console.log(`
Edgevisor is running at ${localUrl}
  Web console    ${localUrl}/console   (sign in with the admin token)
  API reference  ${localUrl}/docs
  OpenAPI        ${localUrl}/openapi.json
  Admin token    ${vars.ADMIN_TOKEN}

  export EDGEVISOR_URL=${localUrl} EDGEVISOR_TOKEN=${vars.ADMIN_TOKEN}
${connectHint}`);
}

/** Agents whose channel problem was reported: a failing reconnect is told once, not on every retry. */
const reportedHosts = new Set();
const retryNoise = new Set(["disconnected", "rejected", "channel.error"]);
const problems = new Set(["rejected", "channel.error", "command.error", "console.error"]);

/** Problems go to stderr always; the rest of what agents do only with --verbose. */
function reportAgentEvent(event) {
	if (event.type === "connected") reportedHosts.delete(event.hostId);
	const problem = problems.has(event.type) || (event.type === "webhook" && !event.delivery.ok);
	if (!problem && !verbose) return;
	if (retryNoise.has(event.type)) {
		if (reportedHosts.has(event.hostId)) return;
		reportedHosts.add(event.hostId);
	}
	const line = describeEvent(event);
	if (!line || event.type === "connected") return;
	if (problem) console.error(`agent ${line}`);
	else console.log(`agent ${line}`);
}

// Stopped by a signal or a vanished parent is an ordinary end: exit 0, which
// also spares a Ctrl-C'd `npm run dev` npm's "command failed" block.
onStopRequest(() => stop(0));
const startup = start().catch((error) => {
	stop(1, `Edgevisor did not start: ${String(error?.message ?? error).split("\n")[0]}`);
});
