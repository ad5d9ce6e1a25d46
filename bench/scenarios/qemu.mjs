// Real hosts: the same busybox guest live-migrated (a) by QEMU alone, driven
// directly over QMP — the floor — and (b) through Edgevisor under the shipped
// policy (low risk: no validation) by two `edgevisor-agent qemu` hosts; plus
// a keystroke's echo through the edge against one typed straight into QEMU's
// serial socket. Rounds alternate (a) and (b) and the direction of the move.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { copyVm, listenForMigration } from "../../agent/qemu/migration.mjs";
import { startVm } from "../../agent/qemu/vm-process.mjs";
import { startQemuAgent } from "../../agent/qemu-agent.mjs";
import { buildTestGuest } from "../../scripts/test-guest.mjs";
import { adminRequest, createHost } from "../lib/fleet-client.mjs";
import { fixed, median, percentile } from "../load.mjs";

const rounds = 4;
const echoSamples = 60;
const gapRounds = 3;
const memoryMiB = 256;

/** Resolves once `read()` includes `text` (polled), within `timeoutMs`. */
async function until(read, test, timeoutMs, what) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await read();
		if (test(value)) return value;
		if (Date.now() > deadline) throw new Error(`bench: no ${what} within ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

/** Ends every QEMU whose pid file is under `dir`. */
async function killQemus(dir) {
	const entries = await readdir(dir, { recursive: true }).catch(() => []);
	for (const entry of entries.filter((path) => path.endsWith("qemu.pid"))) {
		const pid = Number(await readFile(join(dir, entry), "utf8").catch(() => "0"));
		try {
			if (pid > 1) process.kill(pid, "SIGKILL");
		} catch {
			// Gone already.
		}
	}
}

/** (a) One bare move: start the target QEMU, listen, migrate over QMP until completed. */
async function bareMove(source, definition, stateDir, runtime) {
	const startedAt = performance.now();
	const target = await startVm({ vm: definition, stateDir, runtime, incoming: true });
	const address = await listenForMigration(target.qmp, "127.0.0.1");
	const outcome = await copyVm(source.qmp, address, {
		onProgress: () => {},
		cancelled: () => false,
	});
	await until(
		() => target.qmp.execute("query-status"),
		(status) => status.status === "running",
		10_000,
		"target running",
	);
	const wallMs = performance.now() - startedAt;
	if (outcome.status !== "completed") throw new Error(`bench: bare migration ${outcome.status}`);
	await source.quit();
	return { wallMs, ...outcome.stats, target };
}

/** Typed characters echoed back: round trips in ms. */
async function echoRoundTrips(send, onOutput) {
	const samples = [];
	let received = "";
	const off = onOutput((text) => {
		received += text;
	});
	for (let index = 0; index < echoSamples; index++) {
		const marker = String.fromCharCode(97 + (index % 26));
		const before = received.length;
		const startedAt = performance.now();
		send(marker);
		await until(
			() => received.slice(before),
			(text) => text.includes(marker),
			5_000,
			"echo",
		);
		samples.push(performance.now() - startedAt);
	}
	send("\u0015"); // Ctrl-U: the shell forgets the typed line
	off();
	return samples;
}

export async function run({ baseUrl, adminToken }) {
	const dir = await mkdtemp(join(tmpdir(), "edgevisor-bench-qemu-"));
	const guest = await buildTestGuest();
	const runtime = { binary: "qemu-system-x86_64", accel: "tcg", version: "" };
	const agents = [];
	try {
		// (b)'s fleet: two hosts with real agents, one VM.
		const domain = "bench-qemu";
		const hosts = [];
		for (const name of ["qa", "qb"]) {
			const created = await createHost(baseUrl, adminToken, `bench-${name}`, domain);
			const hostDir = join(dir, name);
			await mkdir(join(hostDir, "vms"), { recursive: true });
			await writeFile(join(hostDir, "host.json"), JSON.stringify(created), { mode: 0o600 });
			const running = await startQemuAgent(
				{
					url: baseUrl,
					hostFile: join(hostDir, "host.json"),
					vmsDir: join(hostDir, "vms"),
					stateDir: join(hostDir, "state"),
					migrationAddress: "127.0.0.1",
					qemu: runtime.binary,
					shutdownTimeout: 1,
				},
				() => {},
			);
			agents.push(running.agent);
			hosts.push({ hostId: created.hostId, vmsDir: join(hostDir, "vms") });
		}
		const vmId = "bench-qvm";
		const { key } = await adminRequest(
			baseUrl,
			adminToken,
			"PUT",
			`/v1/hosts/${hosts[0].hostId}/vms/${vmId}`,
			{
				memoryMiB,
				vcpus: 1,
			},
		);
		// The policy reads the hosts' facts: twins once both agents reported their own.
		for (const { hostId } of hosts) {
			await until(
				() => adminRequest(baseUrl, adminToken, "GET", `/v1/hosts/${hostId}`),
				(host) => host.hypervisor.name === "qemu",
				20_000,
				`${hostId}'s facts`,
			);
		}
		const definition = { vmId, memoryMiB, vcpus: 1, ...guest };
		await writeFile(join(hosts[0].vmsDir, `${vmId}.json`), JSON.stringify(definition));

		// The console through the edge: a session on the agent's VM.
		const { buildSessionRequest } = await import("../../cli/connect.mjs");
		const openUserChannel = async () => {
			const session = await fetch(`${baseUrl}/v1/sessions`, {
				method: "POST",
				headers: { "Content-Type": "application/jose" },
				body: await buildSessionRequest({ baseUrl, domain, vmId, key }),
			}).then((response) => response.json());
			const socket = new WebSocket(session.userChannel.url);
			await new Promise((resolve, reject) => {
				socket.once("open", resolve);
				socket.once("error", reject);
			});
			return socket;
		};
		const user = await openUserChannel();
		let screen = "";
		const screenListeners = new Set();
		user.on("message", (data) => {
			const text = data.toString();
			screen += text;
			for (const listener of screenListeners) listener(text);
		});
		await until(
			() => screen,
			(text) => text.includes("guest# "),
			60_000,
			"the guest's prompt",
		);

		// (a)'s guest: the same definition, under the bench's own state directory.
		const bareState = [join(dir, "bare-a"), join(dir, "bare-b")];
		let bare = await startVm({
			vm: { ...definition, vmId: "bench-bare" },
			stateDir: bareState[0],
			runtime,
		});
		await until(
			() => bare.recentOutput().toString(),
			(text) => text.includes("guest# "),
			60_000,
			"the bare guest's prompt",
		);

		const edgeEcho = await echoRoundTrips(
			(text) => user.send(text),
			(listener) => {
				screenListeners.add(listener);
				return () => screenListeners.delete(listener);
			},
		);
		const directEcho = await echoRoundTrips(
			(text) => bare.write(text),
			(listener) => bare.onOutput((chunk) => listener(chunk.toString())),
		);
		user.close();

		/** (b) One move through Edgevisor: POST until the record says completed, with QEMU's stats. */
		const edgeMove = async (targetHostId) => {
			const startedAt = performance.now();
			const record = await adminRequest(baseUrl, adminToken, "POST", "/v1/migrations", {
				vmId,
				targetHostId,
			});
			const read = () =>
				adminRequest(baseUrl, adminToken, "GET", `/v1/migrations/${record.migrationId}`);
			const done = await until(
				read,
				(current) => current.state !== "validating" && current.state !== "migrating",
				60_000,
				"a completed migration",
			);
			const wallMs = performance.now() - startedAt;
			if (done.state !== "completed") {
				throw new Error(`bench: migration ${done.state}: ${done.failure?.reason}`);
			}
			const withStats = await until(
				read,
				(current) => current.stats !== undefined,
				10_000,
				"stats",
			);
			return { wallMs, startedAt, ...withStats.stats };
		};

		const bareMoves = [];
		const edgeMoves = [];
		for (let round = 0; round < rounds; round++) {
			const moved = await bareMove(
				bare,
				{ ...definition, vmId: "bench-bare" },
				bareState[(round + 1) % 2],
				runtime,
			);
			bare = moved.target;
			bareMoves.push(moved);

			edgeMoves.push(await edgeMove(hosts[(round + 1) % 2].hostId));
		}
		await bare.quit();

		// (c) The console across a move: the guest prints a counter every 10 ms to an open session.
		const watcher = await openUserChannel();
		const received = [];
		watcher.on("message", (data) =>
			received.push({ atMs: performance.now(), text: data.toString() }),
		);
		const receivedText = () => received.map((frame) => frame.text).join("");
		watcher.send("i=0; while true; do echo c$i; i=$((i+1)); usleep 10000; done\n");
		await until(receivedText, (text) => /c20\r?\n/.test(text), 10_000, "the counter");
		const gaps = [];
		for (let round = 0; round < gapRounds; round++) {
			const move = await edgeMove(hosts[(round + 1) % 2].hostId);
			const endMs = performance.now();
			await until(
				() => received.at(-1)?.atMs ?? 0,
				(atMs) => atMs > endMs + 300,
				10_000,
				"output after the move",
			);
			const during = received.filter((frame) => frame.atMs >= move.startedAt);
			let gapMs = 0;
			for (let index = 1; index < during.length; index++) {
				gapMs = Math.max(gapMs, during[index].atMs - during[index - 1].atMs);
			}
			gaps.push({ gapMs, downtimeMs: move.downtimeMs });
		}
		watcher.send("\u0003");
		watcher.close();
		const counters = [...receivedText().matchAll(/c(\d+)\r?\n/g)].map((match) => Number(match[1]));
		const outOfSequence = counters.filter(
			(value, index) => index > 0 && value !== counters[index - 1] + 1,
		).length;

		const row = (label, moves) =>
			`| ${label} | ${fixed(median(moves.map((move) => move.wallMs)), 0)} | ${fixed(median(moves.map((move) => move.totalTimeMs)), 0)} | ${fixed(median(moves.map((move) => move.downtimeMs)), 0)} | ${fixed(median(moves.map((move) => move.transferredBytes)) / 2 ** 20, 1)} |`;
		const ratio = (key) =>
			median(edgeMoves.map((move) => move[key])) / median(bareMoves.map((move) => move[key]));
		const echoRow = (label, samples) =>
			`| ${label} | ${fixed(median(samples), 2)} | ${fixed(percentile(samples, 99), 2)} |`;
		return `## Real hosts: QEMU live migration and console

The same ${memoryMiB} MiB busybox guest (Debian cloud kernel, TCG, quiet), ${rounds} moves each on loopback,
alternating (a) and (b) and the direction. Total: from the request to the VM running on the target
(for (a): starting the target QEMU, \`migrate-incoming\`, \`migrate\`, \`query-migrate\` until completed, the
target \`running\`; for (b): \`POST /v1/migrations\` until the record says \`completed\`, which includes
the shipped policy's assessment, the target agent starting its QEMU, and the SP-table handoff).
QEMU's own \`total-time\` and \`downtime\` come from \`query-migrate\`. Medians.

| migration | total ms | QEMU total-time ms | QEMU downtime ms | transferred MiB |
| --- | --- | --- | --- | --- |
${row("(a) bare QEMU over QMP", bareMoves)}
${row("(b) through Edgevisor, shipped policy", edgeMoves)}

Total ratio (b)/(a): **${fixed(ratio("wallMs"))}** (goal ≤ 1.5). Downtime ratio: **${fixed(ratio("downtimeMs"))}** (goal ≤ 1.2).

### Keystroke echo (${echoSamples} characters typed at the guest's shell, one at a time)

| path | p50 ms | p99 ms |
| --- | --- | --- |
${echoRow("through the edge: user channel → SP → agent → serial socket and back", edgeEcho)}
${echoRow("baseline: straight into QEMU's serial socket", directEcho)}

Echo ratio (edge / direct, p50): **${fixed(median(edgeEcho) / median(directEcho))}**.

### The console across a live migration (${gapRounds} moves under an open session)

The guest prints a counter every 10 ms (\`echo c$i; usleep 10000\`) to a session that stays open while
the VM moves. Gap: the longest silence between two frames the user received during the move (the
last byte before the switch to the first after it), next to QEMU's downtime of the same move.

| move | console gap ms | QEMU downtime ms | gap − downtime ms |
| --- | --- | --- | --- |
${gaps.map((gap, index) => `| ${index + 1} | ${fixed(gap.gapMs, 0)} | ${fixed(gap.downtimeMs, 0)} | ${fixed(gap.gapMs - gap.downtimeMs, 0)} |`).join("\n")}

Median gap − downtime: **${fixed(median(gaps.map((gap) => gap.gapMs - gap.downtimeMs)), 0)} ms** (goal ≤ 250 ms).
Counter lines the user received: ${counters.length}, out of sequence (lost or repeated): **${outOfSequence}**.
`;
	} finally {
		for (const agent of agents) await agent.stop();
		// VMs outlive their agents by design; the bench ends its own.
		await killQemus(dir);
		await rm(dir, { recursive: true, force: true });
	}
}
