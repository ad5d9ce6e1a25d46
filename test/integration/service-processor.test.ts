import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
	createHost,
	enrolVm,
	hostWithVm,
	midHandoff,
	openSession,
	requestSession,
	unique,
} from "../support/console";
import { admin } from "../support/http";
import { serviceProcessor } from "../support/objects";
import { rpcError } from "../support/rpc";
import { connect } from "../support/sockets";

function signed(secret: string, body: string, options: { id?: string; at?: Date } = {}) {
	const id = options.id ?? `msg_${crypto.randomUUID()}`;
	const at = options.at ?? new Date();
	return {
		"webhook-id": id,
		"webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
		"webhook-signature": new Webhook(secret).sign(id, at, body),
	};
}

describe("verifyWebhook", () => {
	it("accepts a body signed with the host's secret and returns the event", async () => {
		const host = await createHost();
		const body = JSON.stringify({ type: "host.facts", data: { memoryFreeMiB: 1024 } });
		const result = await serviceProcessor(host.hostId).verifyWebhook(
			signed(host.webhookSecret, body),
			body,
		);
		expect(result).toEqual({
			duplicate: false,
			event: { type: "host.facts", data: { memoryFreeMiB: 1024 } },
		});
	});

	it("reports a repeated webhook-id as a duplicate", async () => {
		const host = await createHost();
		const body = JSON.stringify({ type: "migration.progress", data: { percent: 10 } });
		const headers = signed(host.webhookSecret, body);
		await serviceProcessor(host.hostId).verifyWebhook(headers, body);
		expect((await serviceProcessor(host.hostId).verifyWebhook(headers, body)).duplicate).toBe(true);
	});

	it("refuses a wrong signature with invalid_signature", async () => {
		const host = await createHost();
		const other = await createHost();
		const body = JSON.stringify({ type: "host.facts", data: {} });
		const error = await rpcError(
			serviceProcessor(host.hostId).verifyWebhook(signed(other.webhookSecret, body), body),
		);
		expect(error).toMatchObject({ code: "invalid_signature" });
	});

	it("refuses a body changed after signing with invalid_signature", async () => {
		const host = await createHost();
		const body = JSON.stringify({ type: "host.facts", data: {} });
		const headers = signed(host.webhookSecret, body);
		const error = await rpcError(
			serviceProcessor(host.hostId).verifyWebhook(headers, body.replace("{}", '{"x":1}')),
		);
		expect(error).toMatchObject({ code: "invalid_signature" });
	});

	it("refuses missing headers with invalid_signature", async () => {
		const host = await createHost();
		const error = await rpcError(serviceProcessor(host.hostId).verifyWebhook({}, "{}"));
		expect(error).toMatchObject({ code: "invalid_signature" });
	});

	it("refuses a timestamp more than 300 s old with stale_timestamp, and does not record the id", async () => {
		const host = await createHost();
		const body = JSON.stringify({ type: "host.facts", data: {} });
		const id = `msg_${crypto.randomUUID()}`;
		const stale = signed(host.webhookSecret, body, { id, at: new Date(Date.now() - 301_000) });
		expect(await rpcError(serviceProcessor(host.hostId).verifyWebhook(stale, body))).toMatchObject({
			code: "stale_timestamp",
		});
		const fresh = signed(host.webhookSecret, body, { id });
		expect((await serviceProcessor(host.hostId).verifyWebhook(fresh, body)).duplicate).toBe(false);
	});

	it("refuses a timestamp more than 300 s ahead with stale_timestamp", async () => {
		const host = await createHost();
		const body = JSON.stringify({ type: "host.facts", data: {} });
		const ahead = signed(host.webhookSecret, body, { at: new Date(Date.now() + 301_000) });
		expect(await rpcError(serviceProcessor(host.hostId).verifyWebhook(ahead, body))).toMatchObject({
			code: "stale_timestamp",
		});
	});

	it("refuses a signed body without a type with invalid_request", async () => {
		const host = await createHost();
		const body = JSON.stringify({ data: {} });
		expect(
			await rpcError(
				serviceProcessor(host.hostId).verifyWebhook(signed(host.webhookSecret, body), body),
			),
		).toMatchObject({ code: "invalid_request" });
	});

	it("answers for an unknown host with host_not_found", async () => {
		expect(await rpcError(serviceProcessor(unique("host")).verifyWebhook({}, "{}"))).toMatchObject({
			code: "host_not_found",
		});
	});
});

describe("host record", () => {
	it("applies host.facts: named attributes replace, the rest merge into facts", async () => {
		const host = await createHost();
		await serviceProcessor(host.hostId).recordFacts({ memoryFreeMiB: 2048, numaNodes: 2 });
		await serviceProcessor(host.hostId).recordFacts({
			hypervisor: { name: "cloud-hypervisor", version: "42.0" },
			memoryFreeMiB: 1024,
		});
		const record = await serviceProcessor(host.hostId).getHost();
		expect(record).toMatchObject({
			hostId: host.hostId,
			hypervisor: { name: "cloud-hypervisor", version: "42.0" },
			facts: { memoryFreeMiB: 1024, numaNodes: 2 },
		});
	});

	it("returns null from getHost before the host exists", async () => {
		expect(await serviceProcessor(unique("host")).getHost()).toBeNull();
	});

	it("verifies the agent token and nothing else", async () => {
		const host = await createHost();
		expect(await serviceProcessor(host.hostId).verifyAgentToken(host.agentToken)).toBe(true);
		expect(await serviceProcessor(host.hostId).verifyAgentToken(`${host.agentToken}x`)).toBe(false);
		expect(await serviceProcessor(host.hostId).verifyAgentToken("")).toBe(false);
	});
});

describe("SP-table handoff", () => {
	it("exports the row with its key hash, version, seen jtis and key mismatches, and null for an unknown VM", async () => {
		const host = await createHost();
		const { vmId } = await enrolVm(host.hostId);
		expect(await serviceProcessor(host.hostId).exportVm(vmId)).toEqual({
			vmId,
			keyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
			keyVersion: 1,
			memoryMiB: 4096,
			vcpus: 2,
			enrolledAt: expect.any(String),
			seenJtis: [],
			keyMismatches: [],
		});
		expect(await serviceProcessor(host.hostId).exportVm(unique("vm"))).toBeNull();
	});

	it("adopts a row as-is, idempotently, so the same key opens sessions on the target", async () => {
		const { domain, source, target, vmId, key, row, movePlacement } = await midHandoff();
		await serviceProcessor(target.hostId).adoptVm(row);
		expect(await serviceProcessor(target.hostId).exportVm(vmId)).toEqual(row);
		await movePlacement();
		await serviceProcessor(source.hostId).releaseVm(vmId, "vm_migrated");
		const response = await requestSession({ domain, vm: vmId, key });
		expect(await response.json()).toMatchObject({ hostId: target.hostId });
	});

	it("refuses to adopt onto an unknown host with host_not_found", async () => {
		const host = await createHost();
		const { vmId } = await enrolVm(host.hostId);
		const row = await serviceProcessor(host.hostId).exportVm(vmId);
		if (!row) throw new Error("no row");
		expect(await rpcError(serviceProcessor(unique("host")).adoptVm(row))).toMatchObject({
			code: "host_not_found",
		});
	});

	it("releases a row idempotently, closing its sessions with the given reason", async () => {
		const host = await hostWithVm();
		const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
		const user = await connect(opened.userChannel.url);
		await serviceProcessor(host.hostId).releaseVm(host.vmId, "vm_migrated");
		await serviceProcessor(host.hostId).releaseVm(host.vmId, "vm_migrated");
		expect(await user.waitClosed()).toMatchObject({ reason: "vm_migrated" });
		const record = (await (
			await admin("GET", `/v1/sessions/${opened.sessionId}`)
		).json()) as Record<string, unknown>;
		expect(record).toMatchObject({ state: "closed", closeReason: "vm_migrated" });
		expect(await serviceProcessor(host.hostId).exportVm(host.vmId)).toBeNull();
	});
});
