import { Webhook } from "standardwebhooks";
import { expect } from "vitest";
import { AgentCommand as PublishedCommand } from "../../shared/schemas/agent";
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { type CreatedHost, connectAgent, enrolVm, hostBody, unique } from "./console";
import { admin, call } from "./http";
import { serviceProcessor } from "./objects";
import type { TestSocket } from "./sockets";

/**
 * Fixtures for migrations inside workerd: hosts made to measure, webhooks
 * signed with the real Standard Webhooks scheme, and an agent that reads
 * (and acks) the commands it is sent.
 */

/** Creates a host with body overrides (site, cpu, hypervisor, memoryMiB). */
export async function createHostWith(
	domain: string,
	overrides: Record<string, unknown> = {},
): Promise<CreatedHost> {
	const hostId = unique("host");
	const response = await admin("PUT", `/v1/hosts/${hostId}`, hostBody(domain, overrides));
	if (response.status !== 201) throw new Error(`host create: ${response.status}`);
	return (await response.json()) as CreatedHost;
}

/**
 * A source host with an enrolled VM and a target host (twin unless
 * overridden), both in one domain. The target's agent is connected (the
 * shipped policy fails a move to a host whose agent is not); a test that
 * reads its commands connects it again with `agentFor`, which replaces it.
 */
export async function migrationSetup(targetOverrides: Record<string, unknown> = {}) {
	const domain = unique("dom");
	const source = await createHostWith(domain);
	const target = await createHostWith(domain, targetOverrides);
	const targetAgent = await connectAgent(target);
	const { vmId, key } = await enrolVm(source.hostId);
	return { domain, source, target, vmId, key, targetAgent };
}

/** POST /v1/migrations. */
export function postMigration(vmId: string, targetHostId: string, dryRun?: boolean) {
	return admin("POST", "/v1/migrations", { vmId, targetHostId, dryRun });
}

/** Creates a migration, asserting 201. */
export async function startMigration(vmId: string, targetHostId: string): Promise<MigrationRecord> {
	const response = await postMigration(vmId, targetHostId);
	if (response.status !== 201)
		throw new Error(`migration: ${response.status} ${await response.text()}`);
	return (await response.json()) as MigrationRecord;
}

/** A twin-host migration (no validation to run), already `migrating`. */
export async function migratingVm() {
	const setup = await migrationSetup();
	const record = await startMigration(setup.vmId, setup.target.hostId);
	if (record.state !== "migrating") throw new Error(`migration is ${record.state}, not migrating`);
	return { ...setup, migrationId: record.migrationId };
}

/** GET /v1/migrations/{id}, asserting 200. */
export async function getMigration(migrationId: string): Promise<MigrationRecord> {
	const response = await admin("GET", `/v1/migrations/${migrationId}`);
	if (response.status !== 200) throw new Error(`get migration: ${response.status}`);
	return (await response.json()) as MigrationRecord;
}

/** Signs and POSTs an agent webhook; `secret`, `id` and `timestamp` can be forced for error paths. */
export function sendWebhook(
	host: { hostId: string; webhookSecret: string },
	event: { type: string; data: unknown },
	options: { id?: string; timestamp?: Date; secret?: string; body?: string } = {},
): Promise<Response> {
	const id = options.id ?? `msg_${crypto.randomUUID()}`;
	const timestamp = options.timestamp ?? new Date();
	const body = options.body ?? JSON.stringify(event);
	const signature = new Webhook(options.secret ?? host.webhookSecret).sign(id, timestamp, body);
	return call(`/v1/hosts/${host.hostId}/webhooks`, {
		method: "POST",
		headers: {
			"Content-Type": "application/json",
			"webhook-id": id,
			"webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
			"webhook-signature": signature,
		},
		body,
	});
}

/** An agent command as the server sends it. */
export type AgentCommand = { id: string; type: string; [field: string]: unknown };

/** Connects as the host agent; `next(type)` returns the next command of that type, acking all it reads. */
export async function agentFor(host: CreatedHost) {
	const socket: TestSocket = await connectAgent(host);
	return {
		socket,
		async next(type: string, timeoutMs = 5_000): Promise<AgentCommand> {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const command = await socket.nextJson<AgentCommand>(Math.max(1, deadline - Date.now()));
				// Every command read here must have the shape the OpenAPI document publishes.
				expect(PublishedCommand.safeParse(command).error).toBeUndefined();
				socket.send(JSON.stringify({ type: "ack", id: command.id }));
				if (command.type === type) return command;
			}
		},
	};
}

/** Commands queued for a host's agent and not yet acked (the agent is not connected). */
export function unackedCommands(hostId: string): Promise<string[]> {
	return serviceProcessor(hostId).unackedAgentCommands();
}
