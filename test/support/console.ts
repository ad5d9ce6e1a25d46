import { runInDurableObject } from "cloudflare:test";
import type { JWK } from "jose";
import { AgentCommand } from "../../shared/schemas/agent";
import { admin, call } from "./http";
import { claimsFor, encryptRequest } from "./jwe";
import { serviceProcessor, virtualMachine } from "./objects";
import { connect, type TestSocket } from "./sockets";

/**
 * Fixtures for the console-access flow inside workerd: hosts, enrolled VMs,
 * broadcast requests built from the served JWKS, and the agent channel.
 */

/** A unique id per test, so tests sharing storage never collide. */
export function unique(prefix: string): string {
	return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A valid host body in `domain`. */
export function hostBody(domain: string, overrides: Record<string, unknown> = {}) {
	return {
		domain,
		site: "fra-1",
		cpu: { model: "AMD EPYC 9654", flags: ["avx2", "sev"] },
		memoryMiB: 786_432,
		hypervisor: { name: "cloud-hypervisor", version: "41.0" },
		...overrides,
	};
}

/** A created host with its secrets. */
export interface CreatedHost {
	hostId: string;
	domain: string;
	agentToken: string;
	webhookSecret: string;
}

/** Creates a host (fresh id unless given) in `domain` (fresh unless given). */
export async function createHost(
	hostId = unique("host"),
	domain = unique("dom"),
): Promise<CreatedHost> {
	const response = await admin("PUT", `/v1/hosts/${hostId}`, hostBody(domain));
	if (response.status !== 201) throw new Error(`host create: ${response.status}`);
	return (await response.json()) as CreatedHost;
}

/** Enrols a VM (fresh id unless given) and returns its key. */
export async function enrolVm(
	hostId: string,
	vmId = unique("vm"),
): Promise<{ vmId: string; key: string }> {
	const response = await admin("PUT", `/v1/hosts/${hostId}/vms/${vmId}`, {
		memoryMiB: 4096,
		vcpus: 2,
	});
	if (response.status !== 201)
		throw new Error(`enrol: ${response.status} ${await response.text()}`);
	const { key } = (await response.json()) as { key: string };
	return { vmId, key };
}

/** A host with one enrolled VM. */
export async function hostWithVm(): Promise<CreatedHost & { vmId: string; key: string }> {
	const host = await createHost();
	return { ...host, ...(await enrolVm(host.hostId)) };
}

/** The Worker's served JWKS. */
export async function servedKeys(): Promise<JWK[]> {
	const response = await call("/.well-known/jwks.json");
	return ((await response.json()) as { keys: JWK[] }).keys;
}

/** POSTs a compact JWE to /v1/sessions, from `client` if given (else an address of its own). */
export function postSession(
	jwe: string,
	contentType = "application/jose",
	client?: string,
): Promise<Response> {
	return call("/v1/sessions", {
		method: "POST",
		headers: {
			"Content-Type": contentType,
			...(client === undefined ? {} : { "CF-Connecting-IP": client }),
		},
		body: jwe,
	});
}

/** Builds and POSTs a valid request for `target`, with claim overrides, from `client` if given. */
export async function requestSession(
	target: { domain: string; vm: string; key: string },
	overrides: Record<string, unknown> = {},
	client?: string,
): Promise<Response> {
	const [jwk] = await servedKeys();
	if (!jwk) throw new Error("no served key");
	return postSession(await encryptRequest(jwk, claimsFor(target, overrides)), undefined, client);
}

/** The `201` body of POST /v1/sessions. */
export interface OpenedSession {
	sessionId: string;
	hostId: string;
	vmId: string;
	state: string;
	userChannel: { url: string; token: string; expiresAt: string };
}

/** Opens a session, asserting 201. */
export async function openSession(target: {
	domain: string;
	vm: string;
	key: string;
}): Promise<OpenedSession> {
	const response = await requestSession(target);
	if (response.status !== 201)
		throw new Error(`session: ${response.status} ${await response.text()}`);
	return (await response.json()) as OpenedSession;
}

/** Connects as the host agent. */
export function connectAgent(host: { hostId: string; agentToken: string }): Promise<TestSocket> {
	return connect(`https://edgevisor.test/v1/hosts/${host.hostId}/agent`, {
		Authorization: `Bearer ${host.agentToken}`,
	});
}

/** A `session.open` agent command. */
export interface SessionOpenCommand {
	id: string;
	type: "session.open";
	sessionId: string;
	vmId: string;
	channel: { url: string };
}

/**
 * A full session: host, VM, agent, session opened, both sides attached.
 * The agent acks the command like a real agent would.
 */
export async function establishedSession() {
	const host = await hostWithVm();
	const agent = await connectAgent(host);
	const opened = await openSession({ domain: host.domain, vm: host.vmId, key: host.key });
	const user = await connect(opened.userChannel.url);
	const command = await agent.nextJson<SessionOpenCommand>();
	// The shape the OpenAPI document publishes for the agent channel.
	AgentCommand.parse(command);
	agent.send(JSON.stringify({ type: "ack", id: command.id }));
	const vm = await connect(command.channel.url);
	return { host, agent, opened, user, vm, command };
}

/**
 * Two hosts in one domain with a VM enrolled on the source and its row
 * adopted by the target (the state mid-handoff, before placement moves).
 * `beforeHandoff` runs once the VM is enrolled, before its row is exported.
 */
export async function midHandoff(
	beforeHandoff: (vm: {
		domain: string;
		vm: string;
		key: string;
	}) => Promise<void> = async () => {},
) {
	const domain = unique("dom");
	const source = await createHost(unique("src"), domain);
	const target = await createHost(unique("dst"), domain);
	const { vmId, key } = await enrolVm(source.hostId);
	await beforeHandoff({ domain, vm: vmId, key });
	const row = await serviceProcessor(source.hostId).exportVm(vmId);
	if (!row) throw new Error("no row to hand off");
	await serviceProcessor(target.hostId).adoptVm(row);
	const movePlacement = () => virtualMachine(vmId).movePlacement(source.hostId, target.hostId);
	return { domain, source, target, vmId, key, row, movePlacement };
}

/** Names of the tables an object has created (workerd's own `_cf_` tables aside). */
export function userTables(stub: DurableObjectStub): Promise<string[]> {
	return runInDurableObject(stub, (_instance, state) =>
		state.storage.sql
			.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
			.toArray()
			.map((row) => row.name)
			.filter((name) => !name.startsWith("_cf_") && name !== "sqlite_sequence"),
	);
}
