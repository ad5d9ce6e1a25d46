// Proves migrations end to end over real HTTP under `wrangler dev`, with
// real `ws` agents that answer commands with Standard-Webhooks-signed
// webhooks: a low-risk twin move runs no agent validation and hands the VM
// over so a broadcast session then reaches the target; a risky move runs
// only its triggered set; a failing subtask, a timeout, cancel, and
// concurrent requests (one wins). Eviction is proven in workerd
// (test/integration/migrations-recovery and -handoff), where it can be forced.
import { afterAll, describe, expect, inject, it } from "vitest";
import { defaultPolicy } from "../../shared/default-policy";
import { claimsFor, encryptRequest } from "../support/jwe";
import { probeWithin1s } from "../support/migration-policies";
import { pollUntil } from "../support/poll";
import {
	type AgentCommand,
	api,
	connectAgent,
	type E2eHost,
	sendWebhook,
} from "./support/migration-agent";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");
const call = (method: string, path: string, body?: unknown) =>
	api(baseUrl, adminToken, method, path, body);
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

const hostBody = (domain: string, site: string) => ({
	domain,
	site,
	cpu: { model: "AMD EPYC 9654", flags: ["avx2", "sev"] },
	memoryMiB: 786_432,
	hypervisor: { name: "qemu-kvm", version: "8.2.0" },
});

async function createHost(domain: string, site = "fra-1"): Promise<E2eHost> {
	const hostId = unique("host");
	const { status, body } = await call("PUT", `/v1/hosts/${hostId}`, hostBody(domain, site));
	expect(status).toBe(201);
	return body as unknown as E2eHost;
}

/** Source with a VM and a connected agent, and a target (cross-site when asked). */
async function setup(targetSite = "fra-1") {
	const domain = unique("dom");
	const source = await createHost(domain);
	const target = await createHost(domain, targetSite);
	const vmId = unique("vm");
	const enrolled = await call("PUT", `/v1/hosts/${source.hostId}/vms/${vmId}`, {
		memoryMiB: 4096,
		vcpus: 2,
	});
	expect(enrolled.status).toBe(201);
	const agent = await connectAgent(baseUrl, source);
	// The shipped policy moves a VM only to a host whose agent is connected.
	const targetAgent = await connectAgent(baseUrl, target);
	agents.push(agent, targetAgent);
	return { domain, source, target, vmId, key: enrolled.body.key as string, agent };
}

const agents: Array<{ close(): void }> = [];
afterAll(() => {
	for (const agent of agents) agent.close();
});

async function migrate(vmId: string, targetHostId: string) {
	const { status, body } = await call("POST", "/v1/migrations", { vmId, targetHostId });
	expect(status).toBe(201);
	return body as {
		migrationId: string;
		state: string;
		validationSets: Array<{ id: string; status: string }>;
	};
}

async function stateOf(migrationId: string) {
	return (await call("GET", `/v1/migrations/${migrationId}`)).body as {
		state: string;
		failure?: { stage: string; reason: string };
	};
}

/** Polls until the migration reaches `state` (bounded). */
function until(migrationId: string, state: string, timeoutMs = 10_000) {
	return pollUntil(
		() => stateOf(migrationId),
		(record) => record.state === state,
		{ timeoutMs, what: `migration ${state}`, intervalMs: 100 },
	);
}

describe("migrations end to end", () => {
	it("moves a small VM between twin hosts without agent validation, then a broadcast reaches the target", async () => {
		const { domain, source, target, vmId, key, agent } = await setup();
		const record = await migrate(vmId, target.hostId);
		expect(record.state).toBe("migrating");
		expect(record.validationSets.every((set) => set.status === "skipped")).toBe(true);
		const start = await agent.next("migration.start");
		expect(agent.pending("validation.run")).toEqual([]);
		const { migrationId } = record;
		expect(
			await sendWebhook(baseUrl, source, "migration.progress", { migrationId, percent: 50 }),
		).toBe(200);
		expect(
			await sendWebhook(baseUrl, source, "migration.completed", { migrationId: start.migrationId }),
		).toBe(200);
		expect((await stateOf(migrationId)).state).toBe("completed");
		const jwks = (await (await fetch(`${baseUrl}/.well-known/jwks.json`)).json()) as {
			keys: [object];
		};
		const jwe = await encryptRequest(jwks.keys[0], claimsFor({ domain, vm: vmId, key }));
		const session = await fetch(`${baseUrl}/v1/sessions`, {
			method: "POST",
			headers: { "Content-Type": "application/jose" },
			body: jwe,
		});
		expect(session.status).toBe(201);
		expect(((await session.json()) as { hostId: string }).hostId).toBe(target.hostId);
	});

	it("runs only the triggered set's subtasks for a cross-site move, then starts", async () => {
		const { source, target, vmId, agent } = await setup("ams-1");
		const { migrationId, validationSets } = await migrate(vmId, target.hostId);
		expect(validationSets.filter((set) => set.status !== "skipped").map((set) => set.id)).toEqual([
			"site-reachability",
		]);
		const runs: AgentCommand[] = [];
		for (let index = 0; index < 3; index++) runs.push(await agent.next("validation.run"));
		for (const run of runs) {
			const data = { migrationId, subtask: run.subtask, ok: true };
			expect(await sendWebhook(baseUrl, source, "validation.result", data)).toBe(200);
		}
		expect((await agent.next("migration.start")).migrationId).toBe(migrationId);
		expect((await stateOf(migrationId)).state).toBe("migrating");
	});

	it("fails the migration when a subtask fails", async () => {
		const { source, target, vmId, agent } = await setup("ams-1");
		const { migrationId } = await migrate(vmId, target.hostId);
		const run = await agent.next("validation.run");
		await sendWebhook(baseUrl, source, "validation.result", {
			migrationId,
			subtask: run.subtask,
			ok: false,
			detail: "no route to the target SAN",
		});
		const record = await stateOf(migrationId);
		expect(record.state).toBe("failed");
		expect(record.failure).toEqual({
			stage: "validation",
			reason: `${run.validationSet}/${run.subtask} failed: no route to the target SAN`,
		});
	});

	it("fails a subtask the agent never answers once its timeout passes", async () => {
		expect((await call("PUT", "/v1/migration-policy", probeWithin1s)).status).toBe(200);
		try {
			const { target, vmId, agent } = await setup();
			const { migrationId } = await migrate(vmId, target.hostId);
			await agent.next("validation.run");
			const record = await until(migrationId, "failed");
			expect(record.failure?.reason).toBe("probe/ping failed: no result within 1 s");
		} finally {
			await call("PUT", "/v1/migration-policy", defaultPolicy);
		}
	});

	it("cancels a validating migration and tells the agent", async () => {
		const { target, vmId, agent } = await setup("ams-1");
		const { migrationId } = await migrate(vmId, target.hostId);
		const cancelled = await call("POST", `/v1/migrations/${migrationId}/cancel`);
		expect(cancelled.status).toBe(200);
		expect(cancelled.body.state).toBe("cancelled");
		expect((await agent.next("migration.cancel")).migrationId).toBe(migrationId);
		const again = await call("POST", `/v1/migrations/${migrationId}/cancel`);
		expect([again.status, again.body.code]).toEqual([409, "not_cancellable"]);
	});

	it("lets exactly one of concurrent requests for one VM win", async () => {
		const { target, vmId } = await setup("ams-1");
		const answers = await Promise.all(
			Array.from({ length: 4 }, () =>
				call("POST", "/v1/migrations", { vmId, targetHostId: target.hostId }),
			),
		);
		expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409]);
		expect(
			answers.filter((a) => a.status === 409).every((a) => a.body.code === "migration_in_progress"),
		).toBe(true);
	});
});
