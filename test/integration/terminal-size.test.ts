// Proves the user's terminal size in a console session, over real
// WebSockets inside workerd: a user side that offers `edgevisor.console.v2`
// gets it and tells its size in text frames; the recording's header carries
// the size told before it began (80×24 when none was), and every later
// change is an asciicast "r" event in its place between the output; the size
// outlives an eviction that keeps the sockets; a viewer that speaks the
// console subprotocol is told it. Hostile size messages change nothing,
// never reach the VM and do not end the session; a v1 user side's text
// still reaches the VM as typed. Does not prove the clients (the browser
// and CLI tests do) nor playback (the asciicast unit tests do).
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	consoleControlProtocol,
	consoleProtocol,
	resizeControl,
} from "../../shared/console-protocol";
import { connectAgent, hostWithVm, openSession, type SessionOpenCommand } from "../support/console";
import { admin } from "../support/http";
import { serviceProcessorStub } from "../support/objects";
import { eventually } from "../support/session-checks";
import { connect, TestSocket, upgrade } from "../support/sockets";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An opened session whose user side offered `protocols`: the subprotocol it
 * was answered with, and the VM side still to attach.
 */
async function sessionOffering(protocols: string[]) {
	const host = await hostWithVm();
	const agent = await connectAgent(host);
	const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
	const response = await upgrade(opened.userChannel.url, {
		"Sec-WebSocket-Protocol": protocols.join(", "),
	});
	if (response.status !== 101 || !response.webSocket) {
		throw new Error(`user side refused: ${response.status}`);
	}
	const user = new TestSocket(response.webSocket);
	const command = await agent.nextJson<SessionOpenCommand>();
	return {
		host,
		sessionId: opened.sessionId,
		user,
		protocol: response.headers.get("Sec-WebSocket-Protocol"),
		attachVm: () => connect(command.channel.url),
	};
}

/** A v2 session with both sides attached. */
async function establishedV2Session() {
	const session = await sessionOffering([consoleControlProtocol, consoleProtocol]);
	return { ...session, vm: await session.attachVm() };
}

/** Types `text` (binary, as v2 wants) and waits until the VM has it: all sent before was read. */
async function typeThrough(user: TestSocket, vm: TestSocket, text: string) {
	user.send(encoder.encode(text));
	expect(decoder.decode((await vm.next()) as Uint8Array)).toBe(text);
}

/** Has the VM say `text` and waits until the user has it. */
async function vmSays(vm: TestSocket, user: TestSocket, text: string) {
	vm.send(text);
	expect(decoder.decode((await user.next()) as Uint8Array)).toBe(text);
}

const sessionRecord = async (sessionId: string) =>
	(await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as {
		state: string;
		bytesFromUser: number;
	};

/** The recording so far: its header and its event lines, read as plain JSON. */
async function recording(sessionId: string) {
	const response = await admin("GET", `/v1/sessions/${sessionId}/recording`);
	expect(response.status).toBe(200);
	// Decoded by hand: workerd warns on .text() for a type that is not text.
	const text = decoder.decode(await response.arrayBuffer());
	const [header, ...events] = text.trimEnd().split("\n");
	return {
		header: JSON.parse(header ?? "") as { width: number; height: number },
		events: events.map((line) => JSON.parse(line) as [number, string, string]),
	};
}

/** The events without their times. */
const eventsOf = async (sessionId: string) =>
	(await recording(sessionId)).events.map(([, kind, data]) => [kind, data]);

describe("the terminal size in the recording", () => {
	it("answers v2 to a user side offering v2 and v1, and heads the recording with the size told before it began", async () => {
		const { sessionId, user, protocol, attachVm } = await sessionOffering([
			consoleControlProtocol,
			consoleProtocol,
		]);
		expect(protocol).toBe(consoleControlProtocol);
		user.send(resizeControl({ cols: 132, rows: 43 }));
		// Typed after the resize: once it is counted, the resize was read.
		user.send(encoder.encode("x"));
		await eventually(
			async () => (await sessionRecord(sessionId)).bytesFromUser === 1,
			"the typed byte was not counted",
		);
		const vm = await attachVm();
		await vmSays(vm, user, "login: ");
		const { header, events } = await recording(sessionId);
		expect(header).toMatchObject({ width: 132, height: 43 });
		expect(events.map(([, kind]) => kind)).toEqual(["o"]);
	});

	it("records a resize mid-session as an r event between the output before and after it", async () => {
		const { sessionId, user, vm } = await establishedV2Session();
		await vmSays(vm, user, "before");
		user.send(resizeControl({ cols: 100, rows: 30 }));
		await typeThrough(user, vm, "y");
		await vmSays(vm, user, "after");
		expect((await recording(sessionId)).header).toMatchObject({ width: 80, height: 24 });
		expect(await eventsOf(sessionId)).toEqual([
			["o", "before"],
			["r", "100x30"],
			["o", "after"],
		]);
	});

	it("records nothing for a size the recording already has", async () => {
		const { sessionId, user, vm } = await establishedV2Session();
		user.send(resizeControl({ cols: 80, rows: 24 }));
		user.send(resizeControl({ cols: 90, rows: 24 }));
		user.send(resizeControl({ cols: 90, rows: 24 }));
		await typeThrough(user, vm, "z");
		expect(await eventsOf(sessionId)).toEqual([["r", "90x24"]]);
	});

	it("keeps the size told over an eviction that keeps the sockets (hibernation)", async () => {
		const { host, sessionId, user, attachVm } = await sessionOffering([consoleControlProtocol]);
		user.send(resizeControl({ cols: 120, rows: 40 }));
		user.send(encoder.encode("x"));
		await eventually(
			async () => (await sessionRecord(sessionId)).bytesFromUser === 1,
			"the typed byte was not counted",
		);
		await evictDurableObject(serviceProcessorStub(host.hostId));
		await attachVm();
		expect((await recording(sessionId)).header).toMatchObject({ width: 120, height: 40 });
	});
});

describe("hostile size messages", () => {
	const hostile = [
		JSON.stringify({ type: "resize", cols: 100_000, rows: 50 }),
		JSON.stringify({ type: "resize", cols: 80, rows: 1e308 }),
		JSON.stringify({ type: "resize", cols: -80, rows: 24 }),
		JSON.stringify({ type: "resize", cols: 0, rows: 0 }),
		JSON.stringify({ type: "resize", cols: "80; rm -rf /", rows: "24" }),
		JSON.stringify({ type: "resize", cols: 80.5, rows: 24 }),
		JSON.stringify({ type: "resize", cols: null, rows: [24] }),
		JSON.stringify({ type: "exec", command: "reboot" }),
		'{"type":"resize","cols":100,"rows":',
		"ls -la\r",
		`${resizeControl({ cols: 100, rows: 30 })}${" ".repeat(1024)}`,
	];

	it("change nothing, never reach the VM, and the session goes on", async () => {
		const { sessionId, user, vm } = await establishedV2Session();
		user.send(resizeControl({ cols: 100, rows: 30 }));
		await typeThrough(user, vm, "first");
		for (const text of hostile) user.send(text);
		// The next thing the VM gets is what was typed after them.
		await typeThrough(user, vm, "still here");
		await vmSays(vm, user, "ok");
		expect(vm.pending()).toBe(0);
		expect(await eventsOf(sessionId)).toEqual([
			["r", "100x30"],
			["o", "ok"],
		]);
		expect(await sessionRecord(sessionId)).toMatchObject({
			state: "established",
			// Only what was typed: control messages are not console bytes.
			bytesFromUser: "first".length + "still here".length,
		});
	});

	it("a v1 user side's text reaches the VM as typed, even text that reads as a resize", async () => {
		const { sessionId, user, protocol, attachVm } = await sessionOffering([consoleProtocol]);
		expect(protocol).toBe(consoleProtocol);
		const vm = await attachVm();
		const lookalike = resizeControl({ cols: 100, rows: 30 });
		user.send(lookalike);
		expect(await vm.next()).toBe(lookalike);
		expect((await recording(sessionId)).header).toMatchObject({ width: 80, height: 24 });
		expect(await eventsOf(sessionId)).toEqual([]);
	});
});

describe("viewers and the terminal size", () => {
	/** A viewer offering `protocols` (none: the plain stream). */
	async function attachViewer(sessionId: string, protocols: string[] = []) {
		const grant = (await (await admin("POST", `/v1/sessions/${sessionId}/viewers`)).json()) as {
			url: string;
		};
		const headers: Record<string, string> =
			protocols.length > 0 ? { "Sec-WebSocket-Protocol": protocols.join(", ") } : {};
		return connect(grant.url, headers);
	}

	it("tells a viewer speaking the console subprotocol the size on joining and on each change, the console as binary", async () => {
		const { sessionId, user, vm } = await establishedV2Session();
		user.send(resizeControl({ cols: 100, rows: 30 }));
		await typeThrough(user, vm, "a");
		const viewer = await attachViewer(sessionId, [consoleProtocol]);
		expect(JSON.parse(String(await viewer.next()))).toEqual({
			type: "resize",
			cols: 100,
			rows: 30,
		});
		user.send(resizeControl({ cols: 120, rows: 40 }));
		expect(JSON.parse(String(await viewer.next()))).toEqual({
			type: "resize",
			cols: 120,
			rows: 40,
		});
		vm.send("output");
		expect(decoder.decode((await viewer.next()) as Uint8Array)).toBe("output");
	});

	it("tells a viewer without the subprotocol nothing: it gets only the console, as the VM sent it", async () => {
		const { sessionId, user, vm } = await establishedV2Session();
		user.send(resizeControl({ cols: 100, rows: 30 }));
		await typeThrough(user, vm, "a");
		const viewer = await attachViewer(sessionId);
		user.send(resizeControl({ cols: 120, rows: 40 }));
		await typeThrough(user, vm, "b");
		vm.send("output");
		expect(await viewer.next()).toBe("output");
	});
});
