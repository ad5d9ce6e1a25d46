// Risk-appropriate validation (patent US 10,671,446 B2): how much validation
// work the default policy avoids on a seeded 1,000-request workload compared
// with validating every set on every request (what Nova and LPM do), and how
// many would-fail migrations slip through; plus the latency of one dry-run
// assessment over HTTP against a bare Durable Object RPC in the same run.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { adminRequest } from "../lib/fleet-client.mjs";
import { fixed, median, percentile } from "../load.mjs";
import { generateWorkload } from "../migration/workload.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The real risk engine and default policy, bundled from shared/ for Node. */
async function loadEngine() {
	const dir = await mkdtemp(join(tmpdir(), "edgevisor-risk-"));
	try {
		const outfile = join(dir, "risk.mjs");
		await build({
			stdin: {
				contents:
					'export * from "./shared/risk.ts"; export { defaultPolicy } from "./shared/default-policy.ts";',
				resolveDir: root,
				loader: "ts",
			},
			bundle: true,
			format: "esm",
			platform: "node",
			outfile,
			logLevel: "error",
		});
		return await import(pathToFileURL(outfile).href);
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

/** Evaluates the workload with the engine; returns the side-by-side totals. */
function evaluate(engine, workload) {
	const compiled = engine.compilePolicy(engine.defaultPolicy);
	const totals = {
		requests: workload.length,
		wouldFail: 0,
		slipped: 0,
		caughtAtOnce: 0,
		subtasksRun: 0,
		subtasksAll: 0,
		secondsRun: 0,
		secondsAll: 0,
		assessMicros: [],
		selectedBySet: new Map(),
	};
	// One untimed pass first, so the timings are of JIT-compiled code.
	for (const request of workload) engine.assess(compiled, request.context);
	for (const request of workload) {
		const startedAt = performance.now();
		const { assessment, validationSets } = engine.assess(compiled, request.context);
		totals.assessMicros.push((performance.now() - startedAt) * 1000);
		totals.subtasksAll += assessment.subtasksTotal;
		totals.subtasksRun += assessment.subtasksTotal - assessment.subtasksSkipped;
		totals.secondsAll += assessment.validationSecondsPlanned + assessment.validationSecondsAvoided;
		totals.secondsRun += assessment.validationSecondsPlanned;
		for (const set of validationSets) {
			if (set.status === "skipped") continue;
			totals.selectedBySet.set(set.id, (totals.selectedBySet.get(set.id) ?? 0) + 1);
		}
		if (request.failureCauses.length === 0) continue;
		totals.wouldFail++;
		const selected = new Set(validationSets.filter((s) => s.status !== "skipped").map((s) => s.id));
		if (!request.failureCauses.some((set) => selected.has(set))) totals.slipped++;
		if (validationSets.some((set) => set.status === "failed")) totals.caughtAtOnce++;
	}
	return totals;
}

/** Latency of one dry-run assessment vs one bare DO RPC, sequential requests. */
async function latency({ baseUrl, adminToken, baselineUrl, load }) {
	const host = (site) => ({
		domain: "bench",
		site,
		cpu: { model: "Xeon 6338", flags: ["sse4_2", "avx2"] },
		memoryMiB: 262_144,
		hypervisor: { name: "qemu-kvm", version: "8.2.0" },
	});
	await adminRequest(baseUrl, adminToken, "PUT", "/v1/hosts/bench-src", host("fra1"));
	await adminRequest(baseUrl, adminToken, "PUT", "/v1/hosts/bench-dst", host("ams1"));
	await adminRequest(baseUrl, adminToken, "PUT", "/v1/hosts/bench-src/vms/bench-vm", {
		memoryMiB: 8192,
		vcpus: 4,
	});
	const dryRun = {
		url: `${baseUrl}/v1/migrations`,
		method: "POST",
		headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
		body: JSON.stringify({ vmId: "bench-vm", targetHostId: "bench-dst", dryRun: true }),
	};
	const rounds = [];
	for (let round = 0; round < 3; round++) {
		const rpc = await load({ url: `${baselineUrl}/rpc`, connections: 1, durationMs: 3_000 });
		const assessment = await load({ ...dryRun, connections: 1, durationMs: 3_000 });
		rounds.push({ rpc, assessment });
	}
	return rounds;
}

/** The Markdown section for bench/RESULTS.md. */
export async function run(context) {
	const engine = await loadEngine();
	const workload = generateWorkload({ seed: 42, count: 1000 });
	const t = evaluate(engine, workload);
	const avoidedWork = 1 - t.subtasksRun / t.subtasksAll;
	const avoidedTime = 1 - t.secondsRun / t.secondsAll;
	const slippedShare = t.wouldFail ? t.slipped / t.wouldFail : 0;
	const rounds = await latency(context);
	const p50 = (key) => median(rounds.map((round) => round[key].p50Ms));
	const p99 = (key) => median(rounds.map((round) => round[key].p99Ms));
	const errors = rounds.reduce((sum, r) => sum + r.rpc.errors + r.assessment.errors, 0);
	const goal = avoidedTime >= 0.6 && slippedShare <= 0.01 ? "met" : "NOT met";
	return `## Migration validation (risk-appropriate vs validate everything)

Workload: \`bench/migration/workload.mjs\`, seed 42, ${t.requests} requests over 120 hosts
(3 sites, 3 CPU generations, a rolling hypervisor upgrade, SR-IOV NICs, flaky hosts)
with a ground-truth model of which validation set would catch each failure. The real
risk engine (\`shared/risk.ts\`) evaluates the default policy on every request; subtask
costs are the policy's \`costSeconds\`.
The ground truth is a model, not a measurement: each failure cause is attributed to
the set that would catch it, and only causes without a risk signal (storage lost on a
same-site move, 0.05 %; a small VM that does not converge, 0.1 %) can slip through.

| | validate every set (Nova, LPM) | Edgevisor default policy |
| --- | --- | --- |
| validation subtasks run | ${t.subtasksAll} | ${t.subtasksRun} (${fixed(avoidedWork * 100, 1)} % avoided) |
| validation time (s) | ${fixed(t.secondsAll, 0)} | ${fixed(t.secondsRun, 0)} (${fixed(avoidedTime * 100, 1)} % avoided) |
| would-fail migrations | ${t.wouldFail} | ${t.wouldFail} |
| … caught before migrating | ${t.wouldFail} | ${t.wouldFail - t.slipped} (${t.caughtAtOnce} at once by builtin checks) |
| … slipping through | 0 | ${t.slipped} (${fixed(slippedShare * 100, 2)} %) |

How often each set ran (validating everything runs each one ${t.requests} times):
${[...t.selectedBySet].map(([id, count]) => `\`${id}\` ${count}`).join(", ")}.

Goal (≥ 60 % of validation time avoided, ≤ 1 % of would-fail migrations slipping): **${goal}**.
Assessment cost in Node: median ${fixed(median(t.assessMicros), 1)} µs, p99 ${fixed(percentile(t.assessMicros, 99), 1)} µs per request (${t.requests} requests).

Latency over HTTP, one connection, 3 s per round, median of 3 rounds (errors: ${errors}):

| request | p50 ms | p99 ms | p50 ratio to baseline |
| --- | --- | --- | --- |
| baseline: Hono route + one DO RPC echo (\`GET /rpc\`) | ${p50("rpc")} | ${p99("rpc")} | 1.00 |
| \`POST /v1/migrations\` dry run (VM object + 2 SPs + Fleet, CEL) | ${p50("assessment")} | ${p99("assessment")} | ${fixed(p50("assessment") / Math.max(p50("rpc"), 0.001))} |
`;
}

/** The workload part alone (no Worker needed): `node bench/scenarios/migration.mjs`. */
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	const engine = await loadEngine();
	console.log(evaluate(engine, generateWorkload({ seed: 42, count: 1000 })));
}
