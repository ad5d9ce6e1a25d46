// `npm run dev`: the running system on http://localhost:8787 (PORT overrides).
// Writes missing secrets to .dev.vars, starts wrangler dev with local
// SQLite-backed Durable Objects under .wrangler/state, seeds the demo fleet,
// runs the simulated host agents in this process, then prints how to use it.
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describeEvent, startSimulator } from "../agent/simulator.mjs";
import { defaultDemoDir, seedDemoFleet } from "./demo-fleet.mjs";
import { startDemoQemuHost } from "./demo-qemu.mjs";
import { ensureDevVars } from "./dev-vars.mjs";
import { startWranglerDev } from "./wrangler-dev.mjs";

const devVarsPath = fileURLToPath(new URL("../.dev.vars", import.meta.url));
const port = Number(process.env.PORT ?? 8787);

const vars = await ensureDevVars(devVarsPath);
const server = await startWranglerDev({
	port,
	inherit: true,
	timeoutMs: 180_000,
	publicOrigin: `http://localhost:${port}`,
});
const localUrl = `http://localhost:${port}`;

// The demo is a convenience: if seeding fails the API still serves.
let simulator;
let connectHint = "";
try {
	const { fleet } = await seedDemoFleet({
		baseUrl: localUrl,
		adminToken: vars.ADMIN_TOKEN,
		log: console.log,
	});
	simulator = startSimulator({ baseUrl: localUrl, hosts: fleet.hosts, vms: fleet.vms });
	// A host whose agent cannot connect is reported once, not on every retry.
	const lastProblem = new Map();
	simulator.events.on("event", (event) => {
		const isRetryNoise = ["disconnected", "rejected", "channel.error"].includes(event.type);
		if (event.type === "connected") lastProblem.delete(event.hostId);
		if (isRetryNoise && lastProblem.has(event.hostId)) return;
		if (isRetryNoise) lastProblem.set(event.hostId, event.type);
		const line = describeEvent(event);
		if (line && event.type !== "connected") console.log(`agent ${line}`);
	});
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
	console.error(`demo fleet not started: ${error instanceof Error ? error.message : error}`);
}

const realHost = await startDemoQemuHost({
	baseUrl: localUrl,
	adminToken: vars.ADMIN_TOKEN,
	demoDir: defaultDemoDir,
	log: console.log,
});
if ("note" in realHost) console.log(realHost.note);
else connectHint += realHost.hint;

console.log(`
Edgevisor is running at ${localUrl}
  Web console    ${localUrl}/console   (sign in with the admin token)
  API reference  ${localUrl}/docs
  OpenAPI        ${localUrl}/openapi.json
  Admin token    ${vars.ADMIN_TOKEN}

  export EDGEVISOR_URL=${localUrl} EDGEVISOR_TOKEN=${vars.ADMIN_TOKEN}
${connectHint}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, async () => {
		simulator?.stop();
		if ("stop" in realHost) await realHost.stop();
		await server.stop();
		process.exit(0);
	});
}
await new Promise((resolve) => server.child.once("exit", resolve));
