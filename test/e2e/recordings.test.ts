// Proves console recordings and read-only viewers over real HTTP and real
// WebSockets (`ws`) against `wrangler dev` with its local R2: a viewer sees
// the VM's output like the user does and its input is dropped; after the
// session closes, the downloaded .cast is asciicast v2 with the VM's output
// (and not the user's input); `edgevisor sessions recording` saves it and
// `edgevisor sessions watch` streams a live session until Ctrl-C. Timing is
// not measured.
import { spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { withTimeout } from "../support/inbox";
import { claimsFor, encryptRequest } from "../support/jwe";
import { connectNode, type NodeSocket } from "../support/ws-node";
import { admin, createHost, enrolVm } from "./agent-sim-support";
import { runCli } from "./cli-run";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");
const adminEnv = { EDGEVISOR_URL: baseUrl, EDGEVISOR_TOKEN: adminToken };
const cliPath = join(dirname(import.meta.filename), "../../cli/edgevisor.mjs");
const sockets: NodeSocket[] = [];
let jwk: JWK;

beforeAll(async () => {
	const response = await fetch(`${baseUrl}/.well-known/jwks.json`);
	const [first] = ((await response.json()) as { keys: JWK[] }).keys;
	if (!first) throw new Error("no JWKS");
	jwk = first;
});

afterAll(() => {
	for (const socket of sockets) socket.close();
});

type SessionOpen = { id: string; sessionId: string; channel: { url: string } };

/** Host, VM, agent, a session opened by a JWE broadcast, both sides attached with `ws`. */
async function established() {
	const host = await createHost();
	const vm = await enrolVm(host.hostId);
	const agent = await connectNode(
		`${baseUrl.replace(/^http/, "ws")}/v1/hosts/${host.hostId}/agent`,
		{
			Authorization: `Bearer ${host.agentToken}`,
		},
	);
	const response = await fetch(`${baseUrl}/v1/sessions`, {
		method: "POST",
		headers: { "Content-Type": "application/jose" },
		body: await encryptRequest(jwk, claimsFor({ domain: host.domain, vm: vm.vmId, key: vm.key })),
	});
	expect(response.status).toBe(201);
	const opened = (await response.json()) as { sessionId: string; userChannel: { url: string } };
	const user = await connectNode(opened.userChannel.url);
	const command = await agent.nextJson<SessionOpen>();
	agent.send(JSON.stringify({ type: "ack", id: command.id }));
	const vmSide = await connectNode(command.channel.url);
	sockets.push(agent, user, vmSide);
	return { host, vm, sessionId: opened.sessionId, user, vmSide };
}

/** Attaches a read-only viewer through the admin route. */
async function attachViewer(sessionId: string): Promise<NodeSocket> {
	const { status, body } = await admin<{ url: string }>(
		"POST",
		`/v1/sessions/${sessionId}/viewers`,
	);
	expect(status).toBe(201);
	const viewer = await connectNode(body.url);
	sockets.push(viewer);
	return viewer;
}

/** The header and events of an asciicast v2 text. */
function parseCast(text: string) {
	const [header, ...events] = text.trimEnd().split("\n");
	return {
		header: JSON.parse(header ?? "") as Record<string, unknown>,
		events: events.map((line) => JSON.parse(line) as [number, string, string]),
	};
}

describe("recordings and viewers over wrangler dev", () => {
	it("shows the VM's output to user and viewer, drops the viewer's input, and stores an asciicast v2 recording", async () => {
		const { sessionId, user, vmSide, vm, host } = await established();
		const viewer = await attachViewer(sessionId);
		user.send("secret-typed-by-user\r");
		expect(await vmSide.next()).toBe("secret-typed-by-user\r");
		viewer.send("viewer tries to type\r");
		vmSide.send("$ uptime\r\n");
		vmSide.send(new TextEncoder().encode(" 10:00 up 3 days ✓\r\n"));
		for (const socket of [user, viewer]) {
			expect(await socket.next()).toBe("$ uptime\r\n");
			expect(new TextDecoder().decode((await socket.next()) as Uint8Array)).toBe(
				" 10:00 up 3 days ✓\r\n",
			);
		}
		user.send("marker\r");
		expect(await vmSide.next()).toBe("marker\r");

		expect((await admin("DELETE", `/v1/sessions/${sessionId}`)).status).toBe(204);
		const response = await fetch(`${baseUrl}/v1/sessions/${sessionId}/recording`, {
			headers: { Authorization: `Bearer ${adminToken}` },
		});
		expect(response.status).toBe(200);
		expect(response.headers.get("Content-Type")).toBe("application/x-asciicast");
		const text = await response.text();
		const { header, events } = parseCast(text);
		expect(header).toMatchObject({
			version: 2,
			width: 80,
			height: 24,
			title: `${vm.vmId} on ${host.hostId}`,
		});
		expect(typeof header.timestamp).toBe("number");
		expect(events.map(([, type, output]) => [type, output])).toEqual([
			["o", "$ uptime\r\n"],
			["o", " 10:00 up 3 days ✓\r\n"],
		]);
		expect(events.every(([seconds]) => typeof seconds === "number" && seconds >= 0)).toBe(true);
		expect(text).not.toContain("secret-typed-by-user");
		const { body: session } = await admin<{ recording: { stored: boolean; events: number } }>(
			"GET",
			`/v1/sessions/${sessionId}`,
		);
		expect(session.recording).toMatchObject({ stored: true, events: 2 });
	});

	it("feeds two viewers and closes them with the session's close reason", {
		timeout: 90_000,
	}, async () => {
		const { sessionId, vmSide } = await established();
		const viewers = [await attachViewer(sessionId), await attachViewer(sessionId)];
		vmSide.send("for both");
		for (const viewer of viewers) expect(await viewer.next()).toBe("for both");
		await admin("DELETE", `/v1/sessions/${sessionId}`);
		// Under wrangler dev a server-initiated close can wait for the object's hibernation.
		for (const viewer of viewers) {
			expect(await viewer.waitClosed(45_000)).toMatchObject({ code: 1000, reason: "terminated" });
		}
	});
});

describe("edgevisor sessions recording / watch", () => {
	it("saves a closed session's recording with -o and prints it without", async () => {
		const { sessionId, vmSide, user } = await established();
		vmSide.send("cli recording line\r\n");
		await user.next();
		await admin("DELETE", `/v1/sessions/${sessionId}`);
		const file = join(await mkdtemp(join(tmpdir(), "edgevisor-cast-")), "session.cast");
		const saved = await runCli(["sessions", "recording", sessionId, "-o", file], adminEnv);
		expect(saved.exitCode).toBe(0);
		const { events } = parseCast(await readFile(file, "utf8"));
		expect(events.map(([, , output]) => output)).toEqual(["cli recording line\r\n"]);
		const printed = await runCli(["sessions", "recording", sessionId], adminEnv);
		expect(printed.stdout).toBe(await readFile(file, "utf8"));
	});

	it("prints an unknown session's recording as one not_found line and exits 4", async () => {
		const host = await createHost();
		const run = await runCli(
			["sessions", "recording", `${host.hostId}~${crypto.randomUUID()}`],
			adminEnv,
		);
		expect(run.exitCode).toBe(4);
		expect(run.stderr).toMatch(/^edgevisor: 404 not_found: [^\n]*\n$/);
	});

	it("streams a live session read-only with watch until Ctrl-C", async () => {
		const { sessionId, vmSide } = await established();
		const child = spawn(process.execPath, [cliPath, "sessions", "watch", sessionId], {
			env: { ...process.env, ...adminEnv },
		});
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (chunk: Buffer) => {
			stdout += chunk.toString();
		});
		const watching = new Promise<void>((resolve) => {
			child.stderr.on("data", (chunk: Buffer) => {
				stderr += chunk.toString();
				if (stderr.includes("Watching")) resolve();
			});
		});
		const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
		await withTimeout(watching, 20_000, "watch did not start");
		// The banner is printed once the viewer channel is open.
		vmSide.send("watched output\r\n");
		const seen = new Promise<void>((resolve) => {
			const check = () => stdout.includes("watched output") && resolve();
			child.stdout.on("data", check);
			check();
		});
		await withTimeout(seen, 20_000, "watch printed no VM output");
		child.kill("SIGINT");
		expect(await withTimeout(exited, 20_000, "watch did not exit")).toBe(0);
		expect(stderr).toContain("[stopped watching: viewer left]");
	});
});
