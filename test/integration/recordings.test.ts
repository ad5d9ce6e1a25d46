// Proves console recordings: the VM's output (never the user's input) is
// recorded as asciicast v2 — header, then events in order, binary decoded as
// UTF-8 with replacement — served live from the service processor and, once
// the session closes for any reason, written to R2 (rows deleted only after
// the put); a failed put (R2 made unavailable to the object) is retried by
// the alarm; after an eviction that closed the sockets, the alarm stores it.
// Recording stops at the 8 MiB cap and is marked truncated. Also every
// error path of GET /v1/sessions/{sessionId}/recording. Does not measure the
// relay's cost of recording.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { maxRecordingBytes } from "../../durable-objects/service-processor/recordings";
import { recordingKey } from "../../shared/asciicast";
import { connectAgent, establishedSession, hostWithVm, openSession } from "../support/console";
import { admin, call } from "../support/http";
import { serviceProcessor, serviceProcessorStub } from "../support/objects";
import { eventually, expectProblem, unknownSessionId } from "../support/session-checks";
import { connect } from "../support/sockets";

type Recording = { bytes: number; events: number; truncated: boolean; stored: boolean };
type SessionView = { state: string; closeReason: string | null; recording: Recording | null };

const record = async (sessionId: string) =>
	(await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as SessionView;

/** GETs the recording route; returns status, content type and text. */
async function fetchRecording(sessionId: string) {
	const response = await admin("GET", `/v1/sessions/${sessionId}/recording`);
	return {
		status: response.status,
		contentType: response.headers.get("Content-Type"),
		text: await response.text(),
	};
}

/** The header and the events of an asciicast v2 text. */
function parseCast(text: string) {
	expect(text.endsWith("\n")).toBe(true);
	const [header, ...events] = text.trimEnd().split("\n");
	return {
		header: JSON.parse(header ?? "") as Record<string, unknown>,
		events: events.map((line) => JSON.parse(line) as [number, string, string]),
	};
}

/** What R2 holds for a session, or null. */
async function storedCast(sessionId: string) {
	const object = await env.RECORDINGS.get(recordingKey(sessionId));
	if (!object) return null;
	return { contentType: object.httpMetadata?.contentType, text: await object.text() };
}

/** A session where the VM sent `outputs`, each delivered to the user before the next. */
async function sessionWithOutput(outputs: Array<string | Uint8Array>) {
	const session = await establishedSession();
	for (const output of outputs) {
		session.vm.send(output);
		await session.user.next();
	}
	return session;
}

describe("recording content", () => {
	it("records the VM's output as asciicast v2: header, then one event per frame in order", async () => {
		const { opened, host } = await sessionWithOutput(["login: ", "Welcome\r\n", "$ "]);
		const { status, contentType, text } = await fetchRecording(opened.sessionId);
		expect(status).toBe(200);
		expect(contentType).toBe("application/x-asciicast");
		const { header, events } = parseCast(text);
		expect(header).toMatchObject({
			version: 2,
			width: 80,
			height: 24,
			title: `${host.vmId} on ${host.hostId}`,
			env: { TERM: "xterm-256color" },
		});
		expect(Math.abs((header.timestamp as number) - Date.now() / 1000)).toBeLessThan(60);
		expect(events.map(([, type, output]) => [type, output])).toEqual([
			["o", "login: "],
			["o", "Welcome\r\n"],
			["o", "$ "],
		]);
		const times = events.map(([seconds]) => seconds);
		expect(times).toEqual([...times].sort((a, b) => a - b));
		expect(times[0]).toBeGreaterThanOrEqual(0);
	});

	it("decodes binary output as UTF-8, keeping a character split across frames whole", async () => {
		const encoded = new TextEncoder().encode("wörld ✓");
		const { opened } = await sessionWithOutput([
			encoded,
			new Uint8Array([0xc3]),
			new Uint8Array([0xa9, 0x21]),
		]);
		const { events } = parseCast((await fetchRecording(opened.sessionId)).text);
		expect(events.map(([, , output]) => output)).toEqual(["wörld ✓", "é!"]);
	});

	it("replaces invalid UTF-8 bytes with U+FFFD", async () => {
		const { opened } = await sessionWithOutput([new Uint8Array([0x41, 0xff, 0x42])]);
		const { events } = parseCast((await fetchRecording(opened.sessionId)).text);
		expect(events.map(([, , output]) => output)).toEqual(["A\uFFFDB"]);
	});

	it("never records what the user types", async () => {
		const { opened, user, vm } = await establishedSession();
		user.send("hunter2-password\r");
		expect(await vm.next()).toBe("hunter2-password\r");
		user.send(new TextEncoder().encode("binary-secret"));
		await vm.next();
		vm.send("ok\r\n");
		await user.next();
		const { text } = await fetchRecording(opened.sessionId);
		expect(text).not.toContain("hunter2");
		expect(text).not.toContain("binary-secret");
		expect(parseCast(text).events.map(([, , output]) => output)).toEqual(["ok\r\n"]);
	});

	it("records output the VM sent before the user side attached", async () => {
		const host = await hostWithVm();
		const agent = await connectAgent(host);
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const command = await agent.nextJson<{ channel: { url: string } }>();
		const vm = await connect(command.channel.url);
		vm.send("early banner");
		const user = await connect(opened.userChannel.url);
		expect(await user.next()).toBe("early banner");
		const { events } = parseCast((await fetchRecording(opened.sessionId)).text);
		expect(events.map(([, , output]) => output)).toEqual(["early banner"]);
	});
});

describe("recording summary in the session record", () => {
	it("reports bytes (the .cast size), events, not truncated, not stored while live", async () => {
		const { opened, host } = await sessionWithOutput(["one", "two"]);
		const { text } = await fetchRecording(opened.sessionId);
		const session = await record(opened.sessionId);
		expect(session.recording).toEqual({
			bytes: new TextEncoder().encode(text).byteLength,
			events: 2,
			truncated: false,
			stored: false,
		});
		const listed = (await (await admin("GET", `/v1/hosts/${host.hostId}/sessions`)).json()) as {
			sessions: Array<SessionView & { sessionId: string }>;
		};
		const entry = listed.sessions.find((candidate) => candidate.sessionId === opened.sessionId);
		expect(entry?.recording).toEqual(session.recording);
	});

	it("has no recording until the VM side attaches: null in the record, 404 on the route", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect((await record(opened.sessionId)).recording).toBeNull();
		const response = await admin("GET", `/v1/sessions/${opened.sessionId}/recording`);
		await expectProblem(response, 404, "not_found");
	});
});

describe("storing in R2 when the session closes", () => {
	it("writes the recording to R2 on terminate, deletes its rows, and serves it from there", async () => {
		const { opened, host } = await sessionWithOutput(["hello\r\n", new Uint8Array([0x68, 0x69])]);
		const live = (await fetchRecording(opened.sessionId)).text;
		expect((await admin("DELETE", `/v1/sessions/${opened.sessionId}`)).status).toBe(204);
		expect(await storedCast(opened.sessionId)).toEqual({
			contentType: "application/x-asciicast",
			text: live,
		});
		expect((await record(opened.sessionId)).recording).toMatchObject({ stored: true, events: 2 });
		const rows = await runInDurableObject(serviceProcessorStub(host.hostId), (_instance, state) =>
			state.storage.sql
				.exec("SELECT 1 FROM recording_events WHERE session_id = ?", opened.sessionId)
				.toArray(),
		);
		expect(rows).toEqual([]);
		expect(await fetchRecording(opened.sessionId)).toEqual({
			status: 200,
			contentType: "application/x-asciicast",
			text: live,
		});
	});

	it("stores it when key rotation closes the session", async () => {
		const { opened, host } = await sessionWithOutput(["rotating"]);
		await admin("POST", `/v1/hosts/${host.hostId}/vms/${host.vmId}/rotate-key`);
		expect((await storedCast(opened.sessionId))?.text).toContain('"rotating"');
	});

	it("stores it when removing the VM closes the session", async () => {
		const { opened, host } = await sessionWithOutput(["removing"]);
		expect((await admin("DELETE", `/v1/hosts/${host.hostId}/vms/${host.vmId}`)).status).toBe(204);
		expect((await storedCast(opened.sessionId))?.text).toContain('"removing"');
	});

	it("stores it when a migration releases the VM", async () => {
		const { opened, host } = await sessionWithOutput(["migrating"]);
		await serviceProcessor(host.hostId).releaseVm(host.vmId, "vm_migrated");
		expect((await record(opened.sessionId)).closeReason).toBe("vm_migrated");
		expect((await storedCast(opened.sessionId))?.text).toContain('"migrating"');
	});

	it("stores it when the maximum duration closes the session through the alarm", async () => {
		const { opened, host } = await sessionWithOutput(["long session"]);
		await runInDurableObject(serviceProcessorStub(host.hostId), (_instance, state) => {
			state.storage.sql.exec("UPDATE sessions SET created_ms = created_ms - 43200000");
		});
		expect(await runDurableObjectAlarm(serviceProcessorStub(host.hostId))).toBe(true);
		expect((await record(opened.sessionId)).closeReason).toBe("max_duration");
		expect((await storedCast(opened.sessionId))?.text).toContain('"long session"');
	});

	it("stores it when the user hangs up", async () => {
		const { opened, user, vm } = await sessionWithOutput(["bye"]);
		user.close(1000, "done");
		await vm.waitClosed();
		await eventually(async () => (await storedCast(opened.sessionId)) !== null, "stored");
		expect((await storedCast(opened.sessionId))?.text).toContain('"bye"');
	});

	it("stores it through the alarm after an eviction closed the sockets (closeOrphaned)", async () => {
		const { opened, host, user } = await sessionWithOutput(["before eviction"]);
		// A read writes the buffered events; an eviction loses at most the last unwritten second.
		expect((await record(opened.sessionId)).recording?.events).toBe(1);
		await evictDurableObject(serviceProcessorStub(host.hostId), { webSockets: "close" });
		await user.waitClosed();
		// The next request rebuilds the object, whose constructor closes the orphaned session.
		expect(await record(opened.sessionId)).toMatchObject({
			state: "closed",
			closeReason: "connection_lost",
			recording: { stored: false, events: 1 },
		});
		expect(await storedCast(opened.sessionId)).toBeNull();
		expect(await runDurableObjectAlarm(serviceProcessorStub(host.hostId))).toBe(true);
		expect((await storedCast(opened.sessionId))?.text).toContain('"before eviction"');
		expect((await record(opened.sessionId)).recording).toMatchObject({ stored: true });
	});

	it("keeps the rows when the put fails and stores them when the alarm retries", async () => {
		const { opened, host } = await sessionWithOutput(["kept for retry"]);
		const stub = serviceProcessorStub(host.hostId);
		// R2 is an outside service: it is made unavailable for this one object, nothing of ours is replaced.
		await runInDurableObject(stub, (instance) => {
			const target = instance as unknown as { env: Env };
			const unavailable = {
				put: () => Promise.reject(new Error("R2 unavailable")),
			} as unknown as R2Bucket;
			target.env = { ...target.env, RECORDINGS: unavailable };
		});
		expect((await admin("DELETE", `/v1/sessions/${opened.sessionId}`)).status).toBe(204);
		expect(await storedCast(opened.sessionId)).toBeNull();
		expect((await record(opened.sessionId)).recording).toMatchObject({ stored: false, events: 1 });
		expect((await fetchRecording(opened.sessionId)).text).toContain('"kept for retry"');
		const alarmAt = await runInDurableObject(stub, (instance, state) => {
			(instance as unknown as { env: Env }).env = env;
			return state.storage.getAlarm();
		});
		expect(alarmAt).toEqual(expect.any(Number));
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect((await storedCast(opened.sessionId))?.text).toContain('"kept for retry"');
		expect((await record(opened.sessionId)).recording).toMatchObject({ stored: true });
	});

	it("keeps recording across an eviction that kept the sockets", async () => {
		const { opened, host, user, vm } = await sessionWithOutput(["first"]);
		expect((await record(opened.sessionId)).recording?.events).toBe(1);
		await evictDurableObject(serviceProcessorStub(host.hostId));
		vm.send("second");
		expect(await user.next()).toBe("second");
		const { events } = parseCast((await fetchRecording(opened.sessionId)).text);
		expect(events.map(([, , output]) => output)).toEqual(["first", "second"]);
	});
});

describe("size cap", () => {
	it("stops at 8 MiB, marks the recording truncated, and stores what it has", {
		timeout: 60_000,
	}, async () => {
		const { opened, user, vm } = await establishedSession();
		const frame = "x".repeat(512 * 1024);
		const frames = Math.ceil(maxRecordingBytes / frame.length) + 1;
		for (let index = 0; index < frames; index++) {
			vm.send(frame);
			await user.next(20_000);
		}
		vm.send("after the cap");
		await user.next();
		const session = await record(opened.sessionId);
		expect(session.recording?.truncated).toBe(true);
		expect(session.recording?.bytes).toBeLessThanOrEqual(maxRecordingBytes);
		expect(session.recording?.bytes).toBeGreaterThan(maxRecordingBytes - 100_000);
		await admin("DELETE", `/v1/sessions/${opened.sessionId}`);
		const stored = await storedCast(opened.sessionId);
		expect(new TextEncoder().encode(stored?.text).byteLength).toBe(session.recording?.bytes);
		expect(stored?.text).not.toContain("after the cap");
	});
});

describe("GET /v1/sessions/{sessionId}/recording errors", () => {
	it("answers an unknown session on a known host with 404 not_found", async () => {
		const host = await hostWithVm();
		const response = await admin("GET", `/v1/sessions/${unknownSessionId(host.hostId)}/recording`);
		await expectProblem(response, 404, "not_found");
	});

	it("answers a session on a host nobody created with 404 not_found", async () => {
		const response = await admin("GET", `/v1/sessions/${unknownSessionId()}/recording`);
		await expectProblem(response, 404, "not_found");
	});

	it("answers a malformed session id with 400 invalid_request", async () => {
		const response = await admin("GET", "/v1/sessions/not-a-session/recording");
		await expectProblem(response, 400, "invalid_request");
	});

	it("requires the admin token, and a refusal changes nothing", async () => {
		const { opened } = await sessionWithOutput(["private"]);
		const before = await record(opened.sessionId);
		const response = await call(`/v1/sessions/${opened.sessionId}/recording`);
		await expectProblem(response, 401, "unauthorized");
		const wrong = await call(`/v1/sessions/${opened.sessionId}/recording`, {
			headers: { Authorization: "Bearer wrong" },
		});
		expect(wrong.status).toBe(401);
		expect(await record(opened.sessionId)).toEqual(before);
	});
});
