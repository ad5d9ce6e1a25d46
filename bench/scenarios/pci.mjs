// PCI function transfer (patent US 9,032,122 B2): translate throughput and
// latency against a bare Durable Object RPC echo on the same workerd build; the hold
// window (hold → lift, as the driver device records it) of transfers run while
// 16 clients translate without pause, with the count of failed translates;
// and the end-to-end latency of a transfer, idle and under that load.

import { adminRequest } from "../lib/fleet-client.mjs";
import { fixed, median, percentile } from "../load.mjs";

const repeats = 3;
const loadMs = 5_000;
const transfersIdle = 20;
const driverHost = "bench-pci-a";
const targetHost = "bench-pci-b";
const driverBdf = "0000:3b:00.0";
const targetBdfs = ["0000:5e:00.0", "0000:af:00.0"];
const virtualAddress = "0x7f0000000000";

async function setUp(baseUrl, adminToken) {
	for (const hostId of [driverHost, targetHost]) {
		await adminRequest(baseUrl, adminToken, "PUT", `/v1/hosts/${hostId}`, {
			domain: "bench-pci",
			site: "fra-1",
			cpu: { model: "AMD EPYC 9654", flags: ["avx2"] },
			memoryMiB: 786_432,
			hypervisor: { name: "cloud-hypervisor", version: "41.0" },
		});
	}
	const device = (vfBarBase) => ({
		vendorId: "0x8086",
		deviceId: "0x1572",
		sriov: { totalVfs: 64, firstVfOffset: 0x80, vfStride: 1, vfBarBase, vfBarSize: "0x4000" },
	});
	await adminRequest(
		baseUrl,
		adminToken,
		"PUT",
		`/v1/hosts/${driverHost}/pci-devices/${driverBdf}`,
		device("0x800000000"),
	);
	await adminRequest(
		baseUrl,
		adminToken,
		"PUT",
		`/v1/hosts/${targetHost}/pci-devices/${targetBdfs[0]}`,
		device("0x900000000"),
	);
	await adminRequest(
		baseUrl,
		adminToken,
		"PUT",
		`/v1/hosts/${targetHost}/pci-devices/${targetBdfs[1]}`,
		device("0xa00000000"),
	);
	// A VF is created only for a VM the host's SP table holds.
	await adminRequest(baseUrl, adminToken, "PUT", `/v1/hosts/${driverHost}/vms/bench-vm`, {
		memoryMiB: 4096,
		vcpus: 2,
	});
	await adminRequest(
		baseUrl,
		adminToken,
		"POST",
		`/v1/hosts/${driverHost}/pci-devices/${driverBdf}/vfs`,
		{
			vmId: "bench-vm",
			virtualAddress,
		},
	);
	return { hostId: driverHost, bdf: driverBdf, vfIndex: 0 };
}

/** Runs `count` transfers one after another, bouncing between the target devices. */
async function transferChain(baseUrl, adminToken, start, count) {
	let from = start;
	const latenciesMs = [];
	for (let index = 0; index < count; index++) {
		const startedAt = performance.now();
		const result = await adminRequest(
			baseUrl,
			adminToken,
			"POST",
			`/v1/hosts/${from.hostId}/pci-devices/${from.bdf}/vfs/${from.vfIndex}/transfer`,
			{ targetHostId: targetHost, targetBdf: targetBdfs[index % 2] },
		);
		latenciesMs.push(performance.now() - startedAt);
		from = result.to;
	}
	return { latenciesMs, last: from };
}

/** Hold durations (ms) the driver device recorded for the given transfer count, newest first. */
async function holdWindowsMs(baseUrl, adminToken, count) {
	const { events } = await adminRequest(
		baseUrl,
		adminToken,
		"GET",
		`/v1/hosts/${driverHost}/pci-devices/${driverBdf}/events`,
	);
	return events
		.filter((event) => event.type === "mapping.lifted")
		.slice(0, count)
		.map((event) => event.durationMs);
}

/** Measures PCI translate and transfer; returns the Markdown section. */
export async function run({ baseUrl, adminToken, baselineUrl, load }) {
	let current = await setUp(baseUrl, adminToken);
	const translateRequest = {
		url: `${baseUrl}/v1/hosts/${driverHost}/pci-devices/${driverBdf}/translate`,
		method: "POST",
		headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
		body: JSON.stringify({ virtualAddress: "0x7f0000000123" }),
		connections: 16,
		durationMs: loadMs,
	};

	// The same request shape as translate: a POST of the same JSON body, which
	// the baseline route hands to its Durable Object.
	const baselineRequests = {
		post: { ...translateRequest, url: `${baselineUrl}/rpc` },
		get: { url: `${baselineUrl}/rpc`, connections: 16, durationMs: loadMs },
	};
	const translateRuns = [];
	const baselineRuns = { post: [], get: [] };
	for (let round = 0; round < repeats; round++) {
		baselineRuns.post.push(await load(baselineRequests.post));
		baselineRuns.get.push(await load(baselineRequests.get));
		translateRuns.push(await load(translateRequest));
	}
	const translateRps = median(translateRuns.map((r) => r.rps));
	const baselineRps = {
		post: median(baselineRuns.post.map((r) => r.rps)),
		get: median(baselineRuns.get.map((r) => r.rps)),
	};
	const column = (runs, pick) => fixed(median(runs.map(pick)));

	const idle = await transferChain(baseUrl, adminToken, current, transfersIdle);
	current = idle.last;

	// Transfers while 16 clients translate without pause for the whole chain.
	const underLoad = { latenciesMs: [], translateErrors: 0, translates: 0 };
	const loadRun = load({ ...translateRequest, durationMs: loadMs * 2 });
	let transfersLoaded = 0;
	const loadEndsAt = Date.now() + loadMs * 2 - 500;
	while (Date.now() < loadEndsAt) {
		const chain = await transferChain(baseUrl, adminToken, current, 1);
		underLoad.latenciesMs.push(...chain.latenciesMs);
		current = chain.last;
		transfersLoaded++;
	}
	const loaded = await loadRun;
	underLoad.translateErrors = loaded.errors;
	underLoad.translates = loaded.requests;
	const holdsMs = await holdWindowsMs(baseUrl, adminToken, transfersLoaded);

	return `## PCI function transfer

Translate (\`POST …/translate\`, admin token, 16 connections, ${loadMs / 1000} s, median of ${repeats})
against the baseline's bare Durable Object RPC echo in the same run, sent the same
way (\`POST /rpc\` with the same headers and JSON body) and as a bare \`GET /rpc\`:

| measure | translate | baseline POST /rpc | baseline GET /rpc |
| --- | --- | --- | --- |
| requests/s | ${fixed(translateRps, 0)} | ${fixed(baselineRps.post, 0)} | ${fixed(baselineRps.get, 0)} |
| translate's throughput ratio | | **${fixed(translateRps / baselineRps.post)}** | ${fixed(translateRps / baselineRps.get)} |
| p50 latency (ms) | ${column(translateRuns, (r) => r.p50Ms)} | ${column(baselineRuns.post, (r) => r.p50Ms)} | ${column(baselineRuns.get, (r) => r.p50Ms)} |
| p99 latency (ms) | ${column(translateRuns, (r) => r.p99Ms)} | ${column(baselineRuns.post, (r) => r.p99Ms)} | ${column(baselineRuns.get, (r) => r.p99Ms)} |
| non-2xx or errors | ${translateRuns.reduce((sum, r) => sum + r.errors, 0)} | ${baselineRuns.post.reduce((sum, r) => sum + r.errors, 0)} | ${baselineRuns.get.reduce((sum, r) => sum + r.errors, 0)} |

Goal: ≥ 0.8 of the echo's throughput (the POST row has translate's request shape).

Transfers (one after another, bouncing between two target devices; the hold
window is hold → lift as the driver's device records it in its events):

| measure | idle (${transfersIdle} transfers) | under 16-client translate load (${transfersLoaded} transfers) |
| --- | --- | --- |
| transfer end-to-end p50 (ms) | ${fixed(percentile(idle.latenciesMs, 50))} | ${fixed(percentile(underLoad.latenciesMs, 50))} |
| transfer end-to-end p99 (ms) | ${fixed(percentile(idle.latenciesMs, 99))} | ${fixed(percentile(underLoad.latenciesMs, 99))} |
| hold window p50 (ms) | | ${fixed(percentile(holdsMs, 50))} |
| hold window p99 (ms) | | ${fixed(percentile(holdsMs, 99))} |
| translates answered during the run | | ${underLoad.translates} |
| failed translates (non-2xx or errors) | | ${underLoad.translateErrors} |
`;
}
