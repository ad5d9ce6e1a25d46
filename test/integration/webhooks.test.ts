// Proves POST /v1/hosts/{hostId}/webhooks with real Standard Webhooks
// signatures: a wrong signature is 401 and a stale timestamp 400, both with
// no effect; a repeated webhook-id is 200 with no second effect; host.facts
// reach the host record and the rules; migration events reach the VM's
// object only from a host that is a party to the migration.
// Migration semantics of each event are in migrations*.test.ts.
import { describe, expect, it } from "vitest";
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { admin, problemOf } from "../support/http";
import {
	createHostWith,
	getMigration,
	migrationSetup,
	postMigration,
	sendWebhook,
	startMigration,
} from "../support/migration";
import { serviceProcessor } from "../support/objects";

const otherSecret = `whsec_${btoa("x".repeat(32))}`;

describe("webhook verification", () => {
	it("refuses a wrong signature with invalid_signature and applies nothing", async () => {
		const { source } = await migrationSetup();
		const facts = { type: "host.facts", data: { memoryFreeMiB: 1 } };
		const response = await sendWebhook(source, facts, { secret: otherSecret });
		expect(response.status).toBe(401);
		expect((await problemOf(response)).code).toBe("invalid_signature");
		expect((await serviceProcessor(source.hostId).getHost())?.facts.memoryFreeMiB).toBeUndefined();
	});

	it("refuses a timestamp more than 300 s off with stale_timestamp and applies nothing", async () => {
		const { source } = await migrationSetup();
		const facts = { type: "host.facts", data: { memoryFreeMiB: 1 } };
		const timestamp = new Date(Date.now() - 301_000);
		const response = await sendWebhook(source, facts, { timestamp });
		expect(response.status).toBe(400);
		expect((await problemOf(response)).code).toBe("stale_timestamp");
		expect((await serviceProcessor(source.hostId).getHost())?.facts.memoryFreeMiB).toBeUndefined();
	});

	it("refuses a malformed host id with invalid_request naming it", async () => {
		const host = { hostId: "-bad", webhookSecret: otherSecret };
		const response = await sendWebhook(host, { type: "host.facts", data: {} });
		expect(response.status).toBe(400);
		expect((await problemOf(response)).detail).toMatch(/^path\.hostId: /);
	});

	it("refuses a stale delivery with a wrong signature as invalid_signature, not stale_timestamp", async () => {
		const { source } = await migrationSetup();
		const facts = { type: "host.facts", data: { memoryFreeMiB: 1 } };
		const timestamp = new Date(Date.now() - 3_600_000);
		const response = await sendWebhook(source, facts, { timestamp, secret: otherSecret });
		expect(response.status).toBe(401);
		expect((await problemOf(response)).code).toBe("invalid_signature");
		expect((await serviceProcessor(source.hostId).getHost())?.facts.memoryFreeMiB).toBeUndefined();
	});

	it("answers a repeated webhook-id with 200 and no second effect", async () => {
		const { vmId, source, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		const event = { type: "migration.progress", data: { migrationId, percent: 30 } };
		const first = await sendWebhook(source, event, { id: "msg_repeat_1" });
		expect(await first.json()).toEqual({ received: true, duplicate: false, applied: true });
		await sendWebhook(source, {
			type: "migration.progress",
			data: { migrationId, percent: 60 },
		});
		const repeated = await sendWebhook(source, event, { id: "msg_repeat_1" });
		expect(repeated.status).toBe(200);
		expect(await repeated.json()).toEqual({ received: true, duplicate: true, applied: false });
		expect((await getMigration(migrationId)).progress.percent).toBe(60);
	});

	it("keeps a delivery that could not be applied retryable under the same webhook-id", async () => {
		const { source } = await migrationSetup();
		const early = { type: "migration.progress", data: { migrationId: "mig-unknown", percent: 10 } };
		const refused = await sendWebhook(source, early, { id: "msg_retry_1" });
		expect((await problemOf(refused)).code).toBe("not_found");
		// Had the id been consumed, this would be a 200 duplicate that is never applied.
		const retried = await sendWebhook(source, early, { id: "msg_retry_1" });
		expect((await problemOf(retried)).code).toBe("not_found");
	});

	it("refuses a verified event whose data breaks the schema with invalid_request", async () => {
		const { source } = await migrationSetup();
		const response = await sendWebhook(source, {
			type: "validation.result",
			data: { migrationId: "m", subtask: "s" },
		});
		expect(response.status).toBe(400);
		const problem = await problemOf(response);
		expect(problem.code).toBe("invalid_request");
		expect(problem.detail).toMatch(/^body\.data\.ok/);
	});
});

describe("webhook dispatch", () => {
	it("applies host.facts to the host record, which the rules then read", async () => {
		const { vmId, source, target } = await migrationSetup();
		const facts = { type: "host.facts", data: { memoryFreeMiB: 5000 } };
		expect((await sendWebhook(target, facts)).status).toBe(200);
		expect((await serviceProcessor(target.hostId).getHost())?.facts.memoryFreeMiB).toBe(5000);
		const dryRun = (await (
			await postMigration(vmId, target.hostId, true)
		).json()) as MigrationRecord;
		const headroom = dryRun.assessment.rules.find((rule) => rule.id === "low-target-headroom");
		// A 4096 MiB VM on 5000 MiB free: 81.92 % of the headroom.
		expect(headroom).toMatchObject({ score: 81.92, triggered: true });
		expect(source.hostId).not.toBe(target.hostId);
	});

	it("refuses host.facts the host record's schema would refuse, changing nothing, and the fleet still lists", async () => {
		const { target } = await migrationSetup();
		const before = await (await admin("GET", `/v1/hosts/${target.hostId}`)).json();
		for (const [data, field] of [
			[{ cpu: { model: "m", flags: [""] } }, "body.data.cpu.flags.0"],
			[{ cpu: { model: "", flags: ["sse2"] } }, "body.data.cpu.model"],
			[{ memoryMiB: 0 }, "body.data.memoryMiB"],
			[{ hypervisor: { name: "", version: "1" } }, "body.data.hypervisor.name"],
		] as const) {
			const response = await sendWebhook(target, { type: "host.facts", data });
			expect(response.status).toBe(400);
			const problem = await problemOf(response);
			expect(problem.code).toBe("invalid_request");
			expect(problem.detail).toContain(field);
		}
		expect(await (await admin("GET", `/v1/hosts/${target.hostId}`)).json()).toEqual(before);
		expect((await admin("GET", "/v1/hosts")).status).toBe(200);
	});

	it("answers not_found for an unknown migration", async () => {
		const { source } = await migrationSetup();
		const response = await sendWebhook(source, {
			type: "migration.completed",
			data: { migrationId: "no-such-migration" },
		});
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("not_found");
	});

	it("refuses migration events from a host that is not a party with 403 forbidden, changing nothing", async () => {
		const { vmId, domain, target } = await migrationSetup();
		const outsider = await createHostWith(domain);
		const { migrationId } = await startMigration(vmId, target.hostId);
		const before = await getMigration(migrationId);
		const response = await sendWebhook(outsider, {
			type: "migration.failed",
			data: { migrationId, reason: "forged" },
		});
		expect(response.status).toBe(403);
		expect((await problemOf(response)).code).toBe("forbidden");
		expect(await getMigration(migrationId)).toEqual(before);
	});

	it("refuses the target's report on a copy it was never asked into, and results of subtasks it did not run", async () => {
		const { vmId, source, target } = await migrationSetup({ site: "other-site" });
		const { migrationId, validationSets } = await startMigration(vmId, target.hostId);
		const running = validationSets.flatMap((set) =>
			set.subtasks
				.filter((subtask) => subtask.status === "running")
				.map((subtask) => ({ set, subtask })),
		);
		const [first] = running;
		if (!first) throw new Error("a cross-site move runs agent subtasks");
		const before = await getMigration(migrationId);
		// The audit's attack: the target alone passes the source's checks and declares the move done.
		const result = await sendWebhook(target, {
			type: "validation.result",
			data: { migrationId, validationSet: first.set.id, subtask: first.subtask.id, ok: true },
		});
		expect(result.status).toBe(403);
		expect((await problemOf(result)).code).toBe("forbidden");
		const completed = await sendWebhook(target, {
			type: "migration.completed",
			data: { migrationId },
		});
		expect(completed.status).toBe(403);
		expect(await getMigration(migrationId)).toEqual(before);
		// The source, which ran the subtask, is heard.
		const fromSource = await sendWebhook(source, {
			type: "validation.result",
			data: { migrationId, validationSet: first.set.id, subtask: first.subtask.id, ok: true },
		});
		expect(fromSource.status).toBe(200);
	});
});
