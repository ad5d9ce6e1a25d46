// Proves a migration survives the whole Worker process going away: its own
// `wrangler dev` (persisted state) is stopped and started again mid-way,
// which loses every object's memory, open socket and stream. Validation
// resumes with results sent after the restart; a subtask whose timeout ran
// out while the process was down fails once it is back; a migration started
// before the restart hands over after it. Forced eviction at each handoff
// step is proven in workerd (test/integration/migrations-handoff.test.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { startWranglerDev, writeSecretsFile } from "../../scripts/wrangler-dev.mjs";
import { probeWithin1s } from "../support/migration-policies";
import { pollUntil } from "../support/poll";
import { api, connectAgent, type E2eHost, sendWebhook } from "./support/migration-agent";

type Server = { baseUrl: string; stop(): Promise<void> };

const adminToken = `restart-${crypto.randomUUID()}`;
let workDir = "";
let envFile = "";
let server: Server;

async function start(): Promise<Server> {
	return startWranglerDev({ envFile, persistTo: join(workDir, "state") });
}

async function restart() {
	await server.stop();
	server = await start();
}

const call = (method: string, path: string, body?: unknown) =>
	api(server.baseUrl, adminToken, method, path, body);
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

async function createHost(domain: string, site: string): Promise<E2eHost> {
	const { status, body } = await call("PUT", `/v1/hosts/${unique("host")}`, {
		domain,
		site,
		cpu: { model: "AMD EPYC 9654", flags: ["avx2"] },
		memoryMiB: 786_432,
		hypervisor: { name: "qemu-kvm", version: "8.2.0" },
	});
	expect(status).toBe(201);
	return body as unknown as E2eHost;
}

async function migration(targetSite: string) {
	const domain = unique("dom");
	const source = await createHost(domain, "fra-1");
	const target = await createHost(domain, targetSite);
	const vmId = unique("vm");
	await call("PUT", `/v1/hosts/${source.hostId}/vms/${vmId}`, { memoryMiB: 4096, vcpus: 2 });
	// The shipped policy moves a VM only to a host whose agent is connected.
	const targetAgent = await connectAgent(server.baseUrl, target);
	const created = await call("POST", "/v1/migrations", { vmId, targetHostId: target.hostId });
	targetAgent.close();
	expect(created.status).toBe(201);
	return { source, target, vmId, migrationId: created.body.migrationId as string };
}

/** Polls until the migration reaches `state` (bounded). */
async function until(migrationId: string, state: string, timeoutMs = 20_000) {
	const { body } = await pollUntil(
		() => call("GET", `/v1/migrations/${migrationId}`),
		({ body }) => body.state === state,
		{ timeoutMs, what: `migration ${state}`, intervalMs: 200 },
	);
	return body;
}

beforeAll(async () => {
	workDir = await mkdtemp(join(tmpdir(), "edgevisor-restart-"));
	envFile = await writeSecretsFile(workDir, adminToken);
	server = await start();
});

afterAll(async () => {
	await server?.stop();
	await rm(workDir, { recursive: true, force: true });
});

describe("a restart of the whole Worker", () => {
	it("keeps validation going: results sent after it start the migration", async () => {
		const { source, migrationId } = await migration("ams-1");
		const before = await connectAgent(server.baseUrl, source);
		const subtasks = [];
		for (let index = 0; index < 3; index++)
			subtasks.push((await before.next("validation.run")).subtask);
		before.close();
		await restart();
		const agent = await connectAgent(server.baseUrl, source);
		for (const subtask of subtasks) {
			const data = { migrationId, subtask, ok: true };
			expect(await sendWebhook(server.baseUrl, source, "validation.result", data)).toBe(200);
		}
		expect((await agent.next("migration.start")).migrationId).toBe(migrationId);
		agent.close();
	});

	it("fails a subtask whose timeout ran out while the process was down", async () => {
		expect((await call("PUT", "/v1/migration-policy", probeWithin1s)).status).toBe(200);
		const { migrationId } = await migration("fra-1");
		await restart();
		const failed = await until(migrationId, "failed");
		expect(failed.failure).toEqual({
			stage: "validation",
			reason: "probe/ping failed: no result within 1 s",
		});
	});

	it("hands over a VM whose migration started before it", async () => {
		await call("PUT", "/v1/migration-policy", { rules: [], validationSets: [] });
		const { source, target, vmId, migrationId } = await migration("fra-1");
		await restart();
		expect(await sendWebhook(server.baseUrl, source, "migration.completed", { migrationId })).toBe(
			200,
		);
		await until(migrationId, "completed");
		const vms = await call("GET", `/v1/hosts/${target.hostId}/vms`);
		expect((vms.body.vms as Array<{ vmId: string }>).map((vm) => vm.vmId)).toEqual([vmId]);
	});
});
