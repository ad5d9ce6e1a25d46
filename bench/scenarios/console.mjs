// Issue 2's benchmark: session establishment throughput, broadcast latency as
// the domain grows, and relay round trip and throughput, each against a
// baseline measured in the same run on the same workerd build.

import { withCpu } from "../lib/cpu.mjs";
import {
	broadcastEncrypter,
	connectAgent,
	createHost,
	enrolVm,
	openSocket,
	requestSession,
} from "../lib/fleet-client.mjs";
import { closedLoop, fixed, median, percentile } from "../load.mjs";

const runId = Date.now().toString(36);

/**
 * A new domain of `size` hosts, `vmCount` VMs enrolled on the last one (the
 * first is `vmId`), its agent connected.
 */
async function domainWithVm(ctx, label, size, echoConsole = false, vmCount = 1) {
	const domain = `bench-${runId}-${label}`;
	let lastHost;
	for (let index = 0; index < size; index++) {
		const hostId = `${domain}-h${index}`;
		lastHost = { hostId, ...(await createHost(ctx.baseUrl, ctx.adminToken, hostId, domain)) };
	}
	const keys = new Map();
	for (let index = 0; index < vmCount; index++) {
		const vmId = `${domain}-vm${index}`;
		keys.set(vmId, (await enrolVm(ctx.baseUrl, ctx.adminToken, lastHost.hostId, vmId)).key);
	}
	const vmId = `${domain}-vm0`;
	const agent = await connectAgent(ctx.baseUrl, lastHost.hostId, lastHost.agentToken, {
		echoConsole,
	});
	return { domain, vmId, key: keys.get(vmId), keys, agent };
}

/** Closed-loop load of `task` at 16 clients for `durationMs`, with the CPU it cost. */
function measured(ctx, task, durationMs) {
	const trees = { worker: ctx.workerPid, baseline: ctx.baselinePid };
	return withCpu(trees, () => closedLoop({ concurrency: 16, durationMs, task }));
}

/** Sums rounds of `measured` into one: requests, errors, CPU; rates over the total time. */
function combined(rounds) {
	const requests = rounds.reduce((sum, { result }) => sum + result.requests, 0);
	const seconds = rounds.reduce((sum, { result }) => sum + result.requests / result.rps, 0);
	const cpuMs = { client: 0, worker: 0, baseline: 0 };
	for (const round of rounds) for (const name in cpuMs) cpuMs[name] += round.cpuMs[name];
	return {
		result: {
			requests,
			rps: requests / seconds,
			p50Ms: median(rounds.map(({ result }) => result.p50Ms)),
			p99Ms: Math.max(...rounds.map(({ result }) => result.p99Ms)),
			errors: rounds.reduce((sum, { result }) => sum + result.errors, 0),
		},
		cpuMs,
	};
}

async function establishment(ctx, encrypt) {
	const target = await domainWithVm(ctx, "establish", 4);
	const openSession = async () => {
		const response = await requestSession(
			ctx.baseUrl,
			await encrypt({ ...target, vm: target.vmId }),
		);
		await response.arrayBuffer();
		return response.status === 201;
	};
	// The same request shape as a session request: a POST carrying a JWE of the
	// same size, which the baseline route hands to its Durable Object.
	const sampleJwe = await encrypt({ ...target, vm: target.vmId });
	const baselines = {
		post: async () => {
			const response = await fetch(`${ctx.baselineUrl}/rpc`, {
				method: "POST",
				headers: { "Content-Type": "application/jose" },
				body: sampleJwe,
			});
			await response.arrayBuffer();
			return response.ok;
		},
		get: async () => {
			const response = await fetch(`${ctx.baselineUrl}/rpc`);
			await response.arrayBuffer();
			return response.ok;
		},
	};
	// Warm every path first (JIT, objects constructed, connections open), then
	// alternate them so drift on the shared machine hits all alike.
	await measured(ctx, openSession, 3_000);
	for (const baseline of Object.values(baselines)) await measured(ctx, baseline, 2_000);
	const rounds = { session: [], post: [], get: [] };
	for (let round = 0; round < 3; round++) {
		rounds.session.push(await measured(ctx, openSession, 4_000));
		rounds.post.push(await measured(ctx, baselines.post, 4_000));
		rounds.get.push(await measured(ctx, baselines.get, 4_000));
	}
	const session = combined(rounds.session);
	const post = combined(rounds.post);
	const get = combined(rounds.get);
	target.agent.close();
	const row = (label, { result, cpuMs }) => {
		const perRequest = (ms) => fixed(ms / result.requests, 2);
		return `| ${label} | ${fixed(result.rps, 0)} | ${fixed(result.p50Ms, 1)} | ${fixed(result.p99Ms, 1)} | ${result.errors} | ${perRequest(cpuMs.client)} | ${perRequest(cpuMs.worker + cpuMs.baseline)} |`;
	};
	return `### Session establishment (16 concurrent clients, JWE built per request on the client; every path warmed first, then 3 alternating rounds of 4 s each)

| what | req/s | p50 ms | p99 ms | errors | client CPU ms/req | server CPU ms/req |
| --- | --- | --- | --- | --- | --- | --- |
${row("POST /v1/sessions (decrypt, edge → holder SP with its replay guard, id match, key check, session.open to the agent, agent ack)", session)}
${row("baseline: POST of a same-size JWE to a Hono route that hands it to one DO RPC", post)}
${row("baseline: GET of a Hono route that does one DO RPC", get)}

Throughput ratio (sessions / POST baseline, the same request shape): **${fixed(session.result.rps / post.result.rps)}** (goal ≥ 0.5).
Against the GET baseline: ${fixed(session.result.rps / get.result.rps)}. The POST baseline has the session
request's shape (method, content type, body size), and reads its body the same way. CPU is read from /proc for
this process (the clients and the simulated host agent) and for the wrangler dev process trees (workerd and its
proxy), divided by the requests served.
`;
}

/**
 * Sequential session requests, one per VM in `vmIds`, each expected to
 * answer `status`; latency of each in ms, the first 5 dropped as warm-up.
 */
async function sessionLatencies(ctx, encrypt, target, vmIds, status = 201) {
	const latenciesMs = [];
	for (const vmId of vmIds) {
		const jwe = await encrypt({
			domain: target.domain,
			vm: vmId,
			key: target.keys.get(vmId) ?? "x",
		});
		const sentAt = performance.now();
		const response = await requestSession(ctx.baseUrl, jwe);
		await response.arrayBuffer();
		if (response.status !== status) throw new Error(`session request: ${response.status}`);
		latenciesMs.push(performance.now() - sentAt);
	}
	return latenciesMs.slice(5);
}

async function broadcastLatency(ctx, encrypt) {
	const requests = 40;
	const rows = [];
	let oneSp;
	for (const size of [1, 16, 64, 256]) {
		const target = await domainWithVm(ctx, `broadcast${size}`, size, false, requests);
		const vmIds = [...target.keys.keys()];
		const latencies = {
			// Each VM's first request: the domain's forwarding table names the holder.
			first: await sessionLatencies(ctx, encrypt, target, vmIds),
			// Later requests: the edge sends them to the holder that answered before.
			repeat: await sessionLatencies(ctx, encrypt, target, vmIds),
			// A VM id no SP table holds: the VM object has no placement, so no
			// member is asked (404 vm_not_found).
			unknown: await sessionLatencies(
				ctx,
				encrypt,
				target,
				vmIds.map((vmId) => `${vmId}-unknown`),
				404,
			),
		};
		target.agent.close();
		const p50 = Object.fromEntries(
			Object.entries(latencies).map(([name, values]) => [name, median(values)]),
		);
		oneSp ??= p50;
		const cells = Object.keys(latencies).map(
			(name) =>
				`${fixed(p50[name], 1)} | ${fixed(percentile(latencies[name], 99), 1)} | ${fixed(p50[name] / oneSp[name])}`,
		);
		rows.push(`| ${size} | ${cells.join(" | ")} |`);
	}
	return `### Broadcast latency by domain size (sequential requests, ${requests} per column, first 5 dropped as warm-up)

Members announce the VMs their tables hold, so a domain's forwarding table names each VM's
holder (like a switch's MAC table) and a VM's first request goes to that member alone;
the edge then sends later requests for the VM straight to the SP that answered. For a VM id
the table does not name, the domain asks the VM's object for its placement: an unknown VM
has none and is refused without asking any member, a placed one goes to its host's SP.
Only if that SP refuses (the VM moved meanwhile) is every member asked — a flood, which no
column here reaches (see \`durable-objects/broadcast-domain.ts\`). A flood still grows with the
domain: it measured 7.7× the 1-SP latency at 256 SPs on 2026-11-24, when every unknown VM id was
flooded.

| service processors | first request p50 ms | p99 | ratio to 1 SP | repeat p50 ms | p99 | ratio to 1 SP | unknown VM (404) p50 ms | p99 | ratio to 1 SP |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

Goal: 256 SPs ≤ 4× the latency of 1.
`;
}

/** One 64-byte frame sent on `socket` and its answer awaited. */
function echoOnce(socket, frame) {
	return new Promise((resolve) => {
		socket.once("message", resolve);
		socket.send(frame);
	});
}

/**
 * Round trips of 64-byte frames on an open socket, sequentially; with
 * `legs` > 1 each round trip is that many echoes one after another.
 */
async function roundTrips(socket, count, legs = 1) {
	const frame = Buffer.alloc(64, 7);
	const latenciesMs = [];
	for (let index = 0; index < count; index++) {
		const sentAt = performance.now();
		for (let leg = 0; leg < legs; leg++) await echoOnce(socket, frame);
		latenciesMs.push(performance.now() - sentAt);
	}
	return latenciesMs.slice(Math.floor(count / 10));
}

/** Sends 1 MiB in 4 KiB frames and waits until all of it has come back. */
async function throughputMiBps(socket) {
	const frame = Buffer.alloc(4096, 1);
	const totalBytes = 1024 * 1024;
	let received = 0;
	const startedAt = performance.now();
	const done = new Promise((resolve) => {
		const onMessage = (data) => {
			received += data.length;
			if (received >= totalBytes) {
				socket.off("message", onMessage);
				resolve();
			}
		};
		socket.on("message", onMessage);
	});
	for (let sent = 0; sent < totalBytes; sent += frame.length) socket.send(frame);
	await done;
	return 1 / ((performance.now() - startedAt) / 1000);
}

async function relay(ctx, encrypt) {
	const target = await domainWithVm(ctx, "relay", 1, true);
	const response = await requestSession(ctx.baseUrl, await encrypt({ ...target, vm: target.vmId }));
	const { userChannel } = await response.json();
	const user = await openSocket(userChannel.url);
	const echo = await openSocket(`${ctx.baselineUrl.replace(/^http/, "ws")}/ws`);
	// Warm both paths (the first echo also proves the VM side attached), then
	// alternate rounds so drift on the shared machine hits both alike.
	await roundTrips(user, 100);
	await roundTrips(echo, 100);
	const relayed = [];
	const direct = [];
	const twoEchoes = [];
	const relayedRates = [];
	const directRates = [];
	// Server CPU per round trip: Edgevisor's wrangler dev tree for the relay, the baseline's for the echo.
	const serverCpuMs = { relayed: 0, direct: 0 };
	const trees = { worker: ctx.workerPid, baseline: ctx.baselinePid };
	for (let round = 0; round < 5; round++) {
		const relayRound = await withCpu(trees, () => roundTrips(user, 200));
		relayed.push(...relayRound.result);
		serverCpuMs.relayed += relayRound.cpuMs.worker;
		const echoRound = await withCpu(trees, () => roundTrips(echo, 200));
		direct.push(...echoRound.result);
		serverCpuMs.direct += echoRound.cpuMs.baseline;
		twoEchoes.push(...(await roundTrips(echo, 200, 2)));
	}
	// Each round counts 200 round trips (the first 20 are dropped only from the latencies).
	const cpuPerRoundTrip = (ms) => fixed(ms / (5 * 200), 2);
	for (let round = 0; round < 3; round++) {
		relayedRates.push(await throughputMiBps(user));
		directRates.push(await throughputMiBps(echo));
	}
	const relayedMiBps = median(relayedRates);
	const directMiBps = median(directRates);
	user.close();
	echo.close();
	target.agent.close();

	return `### Relay (user → SP → VM console echo → SP → user; both paths warmed, then 5 alternating rounds of 200 round trips and 3 of 1 MiB, medians)

| path | RTT p50 ms | RTT p99 ms | server CPU ms per round trip | 1 MiB in 4 KiB frames, MiB/s |
| --- | --- | --- | --- | --- |
| Edgevisor relay through the service processor | ${fixed(median(relayed))} | ${fixed(percentile(relayed, 99))} | ${cpuPerRoundTrip(serverCpuMs.relayed)} | ${fixed(relayedMiBps)} |
| reference: direct WebSocket echo in a DO | ${fixed(median(direct))} | ${fixed(percentile(direct, 99))} | ${cpuPerRoundTrip(serverCpuMs.direct)} | ${fixed(directMiBps)} |
| baseline: two direct echoes one after the other | ${fixed(median(twoEchoes))} | ${fixed(percentile(twoEchoes, 99))} | | |

RTT ratio (relay / two direct echoes): **${fixed(median(relayed) / median(twoEchoes))}** (goal ≤ 1.1). A relayed
round trip is two Durable Object WebSocket events (the user's frame, then the VM's answer), so its baseline
is that path with no relay work: two echoes in sequence. Against one echo (the reference row) it is
${fixed(median(relayed) / median(direct))}: under \`wrangler dev\` an event's fixed cost dominates (server CPU column).
`;
}

/** Issue 2's scenario. */
export async function run(ctx) {
	const encrypt = await broadcastEncrypter(ctx.baseUrl);
	const parts = [
		await establishment(ctx, encrypt),
		await broadcastLatency(ctx, encrypt),
		await relay(ctx, encrypt),
	];
	return `## Console access\n\n${parts.join("\n")}`;
}
