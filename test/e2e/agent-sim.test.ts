// Proves the agent simulator speaks the real agent protocol with the Worker
// under `wrangler dev`: the control channel with its agent token, acks, at-
// least-once redelivery deduped by command id, Standard Webhooks signatures
// the Worker verifies, and a console the user reaches through session.open.
// Does not cover migrations or validation (agent-sim-migration.test.ts).
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { buildSessionRequest } from "../../cli/connect.mjs";
import {
	admin,
	createHost,
	enrolVm,
	hostFacts,
	type RecordedSimulator,
	requestSession,
	simulate,
	uniqueId,
} from "./agent-sim-support";

let running: RecordedSimulator | undefined;
afterEach(() => {
	running?.stop();
	running = undefined;
});

/** POSTs a session request with a forged `Host` header (fetch would not send one). */
function postWithHost(
	url: string,
	host: string,
	jwe: string,
): Promise<{ sessionId: string; userChannel: { url: string } }> {
	return new Promise((resolve, reject) => {
		const request = httpRequest(url, {
			method: "POST",
			headers: { "Content-Type": "application/jose", Host: host },
		});
		request.on("response", (response) => {
			let body = "";
			response.on("data", (chunk) => {
				body += chunk;
			});
			response.on("end", () => resolve(JSON.parse(body)));
		});
		request.on("error", reject);
		request.end(jwe);
	});
}

/** Reads the user channel until `text` has been received; rejects after 15 s. */
function readUntil(socket: WebSocket, text: string): Promise<string> {
	return new Promise((resolve, reject) => {
		let received = "";
		const timer = setTimeout(
			() => reject(new Error(`no "${text}" in: ${JSON.stringify(received)}`)),
			15_000,
		);
		socket.on("message", function listener(data) {
			received += data.toString();
			if (!received.includes(text)) return;
			clearTimeout(timer);
			socket.off("message", listener);
			resolve(received);
		});
	});
}

const isFactsWebhook = (event: { type: string; delivery?: unknown }) =>
	event.type === "webhook" && (event.delivery as { type: string }).type === "host.facts";

describe("agent simulator against the Worker", () => {
	it("connects with its agent token and its signed host.facts webhook is applied", async () => {
		const host = await createHost();
		const facts = { ...hostFacts, memoryFreeMiB: 123_456 };
		const sim = simulate([{ ...host, facts }]);
		running = sim;
		const event = await sim.waitFor(isFactsWebhook);
		expect(event.delivery).toMatchObject({ ok: true, status: 200 });
		const { body } = await admin<{ facts: { memoryFreeMiB: number } }>(
			"GET",
			`/v1/hosts/${host.hostId}`,
		);
		expect(body.facts.memoryFreeMiB).toBe(123_456);
	});

	it("is refused with 401 when its agent token is wrong", async () => {
		const host = await createHost();
		const sim = simulate([{ ...host, agentToken: "not-the-token" }]);
		running = sim;
		const event = await sim.waitFor((candidate) => candidate.type === "rejected");
		expect(event.status).toBe(401);
	});

	it("has a webhook signed with another secret refused with 401", async () => {
		const host = await createHost();
		const other = await createHost();
		const sim = simulate([{ ...host, webhookSecret: other.webhookSecret, facts: hostFacts }]);
		running = sim;
		const event = await sim.waitFor(isFactsWebhook);
		expect(event.delivery).toMatchObject({ ok: false, status: 401 });
	});

	it("acks session.open, dials the VM side and answers the user from the VM console", async () => {
		const host = await createHost();
		const { vmId, key } = await enrolVm(host.hostId);
		const sim = simulate([host]);
		running = sim;
		await sim.waitFor((event) => event.type === "connected");
		const session = await requestSession(host.domain, vmId, key);
		expect(session.status).toBe(201);
		const user = new WebSocket(session.body.userChannel.url);
		const greeting = readUntil(user, `root@${vmId}:~# `);
		await greeting;
		const answer = readUntil(user, `\r\n${vmId}\r\n`);
		user.send("hostname\r");
		await answer;
		const { body } = await admin("GET", `/v1/sessions/${session.body.sessionId}`);
		expect(body.state).toBe("established");
		user.close();
	});

	it("shows the VM's own memory and CPUs in its console, as its SP table has them", async () => {
		const host = await createHost();
		const vmId = uniqueId("big-vm");
		const { status, body: enrolled } = await admin<{ key: string }>(
			"PUT",
			`/v1/hosts/${host.hostId}/vms/${vmId}`,
			{ memoryMiB: 12_288, vcpus: 6 },
		);
		expect(status).toBe(201);
		// The simulator was told nothing of this VM: the session.open names its size.
		const sim = simulate([host]);
		running = sim;
		await sim.waitFor((event) => event.type === "connected");
		const session = await requestSession(host.domain, vmId, enrolled.key);
		const user = new WebSocket(session.body.userChannel.url);
		await readUntil(user, `root@${vmId}:~# `);
		const memory = readUntil(user, "12288");
		user.send("free\r");
		await memory;
		const cpus = readUntil(user, "\r\n6\r\n");
		user.send("nproc\r");
		await cpus;
		user.close();
	});

	it("builds channel URLs on its public origin whatever Host a request forges, and the agent dials only those", async () => {
		const host = await createHost();
		const { vmId, key } = await enrolVm(host.hostId);
		const sim = simulate([host]);
		running = sim;
		await sim.waitFor((event) => event.type === "connected");
		// The audit's attack: a forged Host header, hoping for a channel URL on the requester's server.
		const jwe: string = await buildSessionRequest({
			baseUrl: inject("baseUrl"),
			domain: host.domain,
			vmId,
			key,
		});
		const session = await postWithHost(`${inject("baseUrl")}/v1/sessions`, "127.0.0.1:4444", jwe);
		expect(new URL(session.userChannel.url).host).toBe(new URL(inject("baseUrl")).host);
		const attached = await sim.waitFor((event) => event.type === "console.attached");
		expect(attached).toMatchObject({ sessionId: session.sessionId });
		expect(sim.events.some((event) => event.type === "console.refused")).toBe(false);
	});

	it("is not sent an acked command again after it reconnects", async () => {
		const host = await createHost();
		const first = await enrolVm(host.hostId);
		const second = await enrolVm(host.hostId);
		const sim = simulate([host]);
		running = sim;
		await sim.waitFor((event) => event.type === "connected");
		await requestSession(host.domain, first.vmId, first.key);
		const firstOpen = await sim.waitFor((event) => event.type === "command");
		sim.agent(host.hostId).dropConnection();
		await sim.waitFor((event) => event.type === "disconnected");
		const reconnected = sim.events.length;
		await sim.waitFor(
			(event) => event.type === "connected" && sim.events.indexOf(event) >= reconnected,
		);
		await requestSession(host.domain, second.vmId, second.key);
		const secondOpen = await sim.waitFor(
			(event) =>
				event.type === "command" && (event.command as { vmId: string }).vmId === second.vmId,
		);
		const commands = sim.events.filter((event) => event.type === "command");
		expect(commands).toEqual([firstOpen, secondOpen]);
	});

	it("runs a redelivered command once and acks it again", async () => {
		const host = await createHost();
		const { vmId, key } = await enrolVm(host.hostId);
		const sim = simulate([host], {}, { loseEveryAck: true });
		running = sim;
		await sim.waitFor((event) => event.type === "connected");
		await requestSession(host.domain, vmId, key);
		const original = await sim.waitFor((event) => event.type === "command");
		await sim.waitFor((event) => event.type === "console.attached");
		sim.agent(host.hostId).dropConnection();
		const redelivered = await sim.waitFor(
			(event) => event.type === "command" && event.duplicate === true,
		);
		expect((redelivered.command as { id: string }).id).toBe(
			(original.command as { id: string }).id,
		);
		expect(sim.events.filter((event) => event.type === "console.attached")).toHaveLength(1);
	});
});
