// `npm run bench [scenario …]`: for each scenario in bench/scenarios/, starts
// the Worker and the baseline Worker under wrangler dev (fresh state each),
// runs it, and writes the sections to bench/RESULTS.md with the command and
// the machine.
import { execSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWranglerDev, writeSecretsFile } from "../scripts/wrangler-dev.mjs";
import { load } from "./load.mjs";

const benchDir = fileURLToPath(new URL(".", import.meta.url));
const requested = process.argv.slice(2);
const scenarioFiles = (await readdir(join(benchDir, "scenarios")))
	.filter((file) => file.endsWith(".mjs"))
	.filter((file) => requested.length === 0 || requested.includes(file.replace(/\.mjs$/, "")))
	.sort();

const workDir = await mkdtemp(join(tmpdir(), "edgevisor-bench-"));
const adminToken = `bench-${crypto.randomUUID()}`;
const envFile = await writeSecretsFile(workDir, adminToken);

/**
 * Starts the Worker and the baseline Worker with fresh state. Each scenario
 * gets its own pair, so work one leaves behind (sessions timing out, alarms)
 * never runs during another's measurement.
 */
async function startPair(label) {
	const [worker, baseline] = await Promise.all([
		startWranglerDev({
			envFile,
			persistTo: join(workDir, `${label}-state`),
		}),
		startWranglerDev({
			config: join(benchDir, "baseline", "wrangler.toml"),
			persistTo: join(workDir, `${label}-baseline-state`),
			healthPath: "/hono",
		}),
	]);
	// Warm both isolates so the scenario does not pay for startup.
	await load({ url: `${baseline.baseUrl}/rpc`, durationMs: 1_000 });
	await load({ url: `${worker.baseUrl}/healthz`, durationMs: 1_000 });
	return { worker, baseline };
}

const sections = [];
try {
	for (const file of scenarioFiles) {
		const { run } = await import(join(benchDir, "scenarios", file));
		console.log(`bench: ${file}`);
		const startedAt = Date.now();
		const { worker, baseline } = await startPair(file.replace(/\.mjs$/, ""));
		try {
			sections.push(
				await run({
					baseUrl: worker.baseUrl,
					adminToken,
					baselineUrl: baseline.baseUrl,
					// Roots of the two wrangler dev process trees, for CPU accounting.
					workerPid: worker.child.pid,
					baselinePid: baseline.child.pid,
					load,
				}),
			);
		} finally {
			await Promise.all([worker.stop(), baseline.stop()]);
		}
		console.log(`bench: ${file} done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
	}
} finally {
	await rm(workDir, { recursive: true, force: true });
}

const command = `npm run bench${requested.length ? ` ${requested.join(" ")}` : ""}`;
const wranglerVersion = execSync("npx wrangler --version", { encoding: "utf8" }).trim();
const header = `# Benchmark results

Produced by \`${command}\` on ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"},
Node ${process.version}, wrangler ${wranglerVersion}, both Workers under \`wrangler dev\` on loopback,
started afresh (empty state) for each scenario. The load generator shares the machine's cores with workerd, so absolute numbers are
noisy; every figure is paired with a baseline measured in the same run on the same
workerd build (\`bench/baseline/\`, a second \`wrangler dev\` with the same proxy in front:
a bare Hono route, a bare Durable Object RPC echo, a WebSocket echo in a Durable
Object) and reported as a ratio.
`;
const resultsPath = join(benchDir, "RESULTS.md");
await writeFile(resultsPath, `${header}\n${sections.join("\n")}`);
console.log(`bench: wrote ${resultsPath}`);
