// Proves read-only viewers of a live console session: POST
// /v1/sessions/{id}/viewers hands out a single-use viewer URL (and refuses
// unknown or closed sessions, or a missing admin token, changing nothing);
// a viewer receives every VM→user frame from the moment it joins, text as
// text and binary as binary; what it sends never reaches the VM; many
// viewers may watch; they are closed with the session's close reason,
// survive an eviction that keeps the sockets, are counted in the session
// record and audited. Does not cover recordings (recordings.test.ts).
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { establishedSession, hostWithVm, openSession } from "../support/console";
import { admin, call } from "../support/http";
import { serviceProcessorStub } from "../support/objects";
import { eventually, expectProblem, unknownSessionId } from "../support/session-checks";
import { connect, type TestSocket, upgrade } from "../support/sockets";

type ViewerGrant = { url: string; token: string; expiresAt: string };

const record = async (sessionId: string) =>
	(await (await admin("GET", `/v1/sessions/${sessionId}`)).json()) as Record<string, unknown>;

/** POSTs for a viewer, asserting 201. */
async function viewerGrant(sessionId: string): Promise<ViewerGrant> {
	const response = await admin("POST", `/v1/sessions/${sessionId}/viewers`);
	if (response.status !== 201)
		throw new Error(`viewer: ${response.status} ${await response.text()}`);
	return (await response.json()) as ViewerGrant;
}

/** A viewer connected to the session. */
async function attachViewer(sessionId: string): Promise<TestSocket> {
	return connect((await viewerGrant(sessionId)).url);
}

/** Channel tokens the service processor holds for a session. */
function tokenCount(hostId: string, sessionId: string): Promise<number> {
	return runInDurableObject(
		serviceProcessorStub(hostId),
		(_instance, state) =>
			state.storage.sql
				.exec("SELECT 1 FROM channel_tokens WHERE session_id = ?", sessionId)
				.toArray().length,
	);
}

describe("POST /v1/sessions/{sessionId}/viewers", () => {
	it("hands out a viewer URL on this origin with a single-use token expiring within 60 s", async () => {
		const { opened } = await establishedSession();
		const grant = await viewerGrant(opened.sessionId);
		expect(grant.url).toBe(
			`wss://edgevisor.test/v1/sessions/${opened.sessionId}/viewer?token=${grant.token}`,
		);
		const expiresInMs = Date.parse(grant.expiresAt) - Date.now();
		expect(expiresInMs).toBeGreaterThan(0);
		expect(expiresInMs).toBeLessThanOrEqual(60_000);
	});

	it("hands out a viewer while the VM side is still pending", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		expect((await admin("POST", `/v1/sessions/${opened.sessionId}/viewers`)).status).toBe(201);
	});

	it("answers an unknown session with 404 not_found and stores no token", async () => {
		const host = await hostWithVm();
		const sessionId = unknownSessionId(host.hostId);
		const response = await admin("POST", `/v1/sessions/${sessionId}/viewers`);
		await expectProblem(response, 404, "not_found");
		expect(await tokenCount(host.hostId, sessionId)).toBe(0);
	});

	it("answers a session on a host nobody created with 404 not_found", async () => {
		const response = await admin("POST", `/v1/sessions/${unknownSessionId()}/viewers`);
		await expectProblem(response, 404, "not_found");
	});

	it("answers a closed session with 409 session_closed and stores no token", async () => {
		const { opened, host } = await establishedSession();
		await admin("DELETE", `/v1/sessions/${opened.sessionId}`);
		const response = await admin("POST", `/v1/sessions/${opened.sessionId}/viewers`);
		await expectProblem(response, 409, "session_closed");
		expect(await tokenCount(host.hostId, opened.sessionId)).toBe(0);
	});

	it("answers a malformed session id with 400 invalid_request", async () => {
		const response = await admin("POST", "/v1/sessions/nope/viewers");
		await expectProblem(response, 400, "invalid_request");
	});

	it("requires the admin token and stores no token without it", async () => {
		const { opened, host } = await establishedSession();
		const before = await tokenCount(host.hostId, opened.sessionId);
		const response = await call(`/v1/sessions/${opened.sessionId}/viewers`, { method: "POST" });
		await expectProblem(response, 401, "unauthorized");
		expect(await tokenCount(host.hostId, opened.sessionId)).toBe(before);
	});
});

describe("viewer channel", () => {
	it("receives the VM's output from the moment it joins, text as text and binary as binary", async () => {
		const { opened, user, vm } = await establishedSession();
		vm.send("before the viewer");
		await user.next();
		const viewer = await attachViewer(opened.sessionId);
		vm.send("after\r\n");
		vm.send(new Uint8Array([0, 255, 27]));
		expect(await viewer.next()).toBe("after\r\n");
		expect(await viewer.next()).toEqual(new Uint8Array([0, 255, 27]));
		expect(await user.next()).toBe("after\r\n");
		expect(await user.next()).toEqual(new Uint8Array([0, 255, 27]));
	});

	it("does not receive what the user types", async () => {
		const { opened, user, vm } = await establishedSession();
		const viewer = await attachViewer(opened.sessionId);
		user.send("typed by the user");
		await vm.next();
		vm.send("echo");
		expect(await viewer.next()).toBe("echo");
	});

	it("drops what a viewer sends: it never reaches the VM nor counts as input", async () => {
		const { opened, user, vm } = await establishedSession();
		const viewer = await attachViewer(opened.sessionId);
		viewer.send("rm -rf /\r");
		viewer.send(new Uint8Array([3]));
		user.send("marker");
		expect(await vm.next()).toBe("marker");
		expect(vm.pending()).toBe(0);
		expect((await record(opened.sessionId)).bytesFromUser).toBe(6);
	});

	it("feeds every one of several viewers", async () => {
		const { opened, vm } = await establishedSession();
		const viewers = await Promise.all([1, 2, 3].map(() => attachViewer(opened.sessionId)));
		vm.send("to all");
		for (const viewer of viewers) expect(await viewer.next()).toBe("to all");
		expect((await record(opened.sessionId)).viewers).toBe(3);
	});

	it("closes viewers with the session's close reason", async () => {
		const { opened } = await establishedSession();
		const first = await attachViewer(opened.sessionId);
		const second = await attachViewer(opened.sessionId);
		await admin("DELETE", `/v1/sessions/${opened.sessionId}`);
		expect(await first.waitClosed()).toMatchObject({ code: 1000, reason: "terminated" });
		expect(await second.waitClosed()).toMatchObject({ code: 1000, reason: "terminated" });
		expect((await record(opened.sessionId)).viewers).toBe(0);
	});

	it("closes viewers with user_disconnected when the user hangs up", async () => {
		const { opened, user } = await establishedSession();
		const viewer = await attachViewer(opened.sessionId);
		user.close(1000, "bye");
		expect(await viewer.waitClosed()).toMatchObject({ reason: "user_disconnected" });
	});

	it("keeps the session open when a viewer leaves", async () => {
		const { opened, user, vm } = await establishedSession();
		const viewer = await attachViewer(opened.sessionId);
		viewer.close(1000, "seen enough");
		await eventually(async () => (await record(opened.sessionId)).viewers === 0, "viewer gone");
		vm.send("still here");
		expect(await user.next()).toBe("still here");
		expect((await record(opened.sessionId)).state).toBe("established");
	});

	it("accepts a viewer token once only", async () => {
		const { opened } = await establishedSession();
		const grant = await viewerGrant(opened.sessionId);
		await connect(grant.url);
		const second = await upgrade(grant.url);
		await expectProblem(second, 401, "unauthorized");
	});

	it("refuses a viewer token on the user side and the user token on the viewer side", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const grant = await viewerGrant(opened.sessionId);
		expect((await upgrade(grant.url.replace("/viewer?", "/user?"))).status).toBe(401);
		expect((await upgrade(opened.userChannel.url.replace("/user?", "/viewer?"))).status).toBe(401);
		await connect(grant.url);
		await connect(opened.userChannel.url);
	});

	it("keeps viewers over an eviction that keeps the sockets (hibernation)", async () => {
		const { opened, host, vm } = await establishedSession();
		const viewer = await attachViewer(opened.sessionId);
		await evictDurableObject(serviceProcessorStub(host.hostId));
		vm.send("after eviction");
		expect(await viewer.next()).toBe("after eviction");
		viewer.send("still dropped");
		expect((await record(opened.sessionId)).viewers).toBe(1);
	});

	it("audits viewer.attached and viewer.detached", async () => {
		const { opened, host } = await establishedSession();
		await attachViewer(opened.sessionId);
		await admin("DELETE", `/v1/sessions/${opened.sessionId}`);
		const { events } = (await (await admin("GET", `/v1/hosts/${host.hostId}/audit`)).json()) as {
			events: Array<{ type: string; sessionId: string; detail: Record<string, unknown> }>;
		};
		const viewerEvents = events
			.filter((event) => event.type.startsWith("viewer."))
			.reverse()
			.map((event) => [event.type, event.sessionId, event.detail.reason]);
		expect(viewerEvents).toEqual([
			["viewer.attached", opened.sessionId, undefined],
			["viewer.detached", opened.sessionId, "terminated"],
		]);
	});
});
