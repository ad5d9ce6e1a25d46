// Helpers for end-to-end tests of the tools against the real `wrangler dev`:
// admin calls, unique fixtures, and awaiting simulator events with timeouts.
import type { EventEmitter } from "node:events";
import { inject } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { startSimulator } from "../../agent/simulator.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { buildSessionRequest } from "../../cli/connect.mjs";
import { adminRequest } from "../support/admin-request";

const baseUrl = inject("baseUrl");
const adminToken = inject("adminToken");

/** A simulator event as the library emits it. */
export type SimEvent = { type: string; hostId?: string; [field: string]: unknown };

/** Host secrets as `PUT /v1/hosts/{hostId}` shows them once. */
export interface SeededHost {
	hostId: string;
	domain: string;
	agentToken: string;
	webhookSecret: string;
}

/** A unique id for this test run, e.g. `sim-h-3f9a1c`. */
export function uniqueId(prefix: string): string {
	return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Sends an admin request; returns status and parsed body (typed by the caller). */
export function admin<Body = Record<string, string>>(
	method: string,
	path: string,
	body?: unknown,
): Promise<{ status: number; body: Body }> {
	return adminRequest<Body>({ baseUrl, adminToken }, method, path, body);
}

/** The facts every test host is created with. */
export const hostFacts = {
	cpu: { model: "Intel Xeon Gold 6338 (Ice Lake)", flags: ["avx2", "avx512f"] },
	memoryMiB: 262_144,
	hypervisor: { name: "qemu-kvm", version: "9.2.0" },
};

/** Creates a host (in a fresh domain unless given) and returns its once-shown secrets. */
export async function createHost(
	domain = uniqueId("sim-d"),
	{ site = "fra1" }: { site?: string } = {},
): Promise<SeededHost> {
	const hostId = uniqueId("sim-h");
	const { status, body } = await admin<{ agentToken: string; webhookSecret: string }>(
		"PUT",
		`/v1/hosts/${hostId}`,
		{
			domain,
			site,
			...hostFacts,
		},
	);
	if (status !== 201) throw new Error(`PUT host answered ${status}: ${JSON.stringify(body)}`);
	return { hostId, domain, agentToken: body.agentToken, webhookSecret: body.webhookSecret };
}

/** Enrols a VM on a host and returns its key. */
export async function enrolVm(
	hostId: string,
	vmId = uniqueId("sim-vm"),
): Promise<{ vmId: string; key: string }> {
	const { status, body } = await admin<{ key: string }>("PUT", `/v1/hosts/${hostId}/vms/${vmId}`, {
		memoryMiB: 4096,
		vcpus: 2,
	});
	if (status !== 201) throw new Error(`PUT vm answered ${status}: ${JSON.stringify(body)}`);
	return { vmId, key: body.key };
}

/** A running simulator whose every event is recorded, so tests can await past or future ones. */
export interface RecordedSimulator {
	events: SimEvent[];
	agent(hostId: string): { dropConnection(): void; connected: boolean };
	/** Resolves with the first recorded event (past or future) matching, or rejects after `timeoutMs`. */
	waitFor(predicate: (event: SimEvent) => boolean, timeoutMs?: number): Promise<SimEvent>;
	stop(): void;
}

/** Starts the simulator for `hosts` against the e2e Worker and records its events. */
export function simulate(
	hosts: Array<Pick<SeededHost, "hostId" | "agentToken" | "webhookSecret"> & { facts?: unknown }>,
	behaviour: Record<string, unknown> = {},
	{ loseEveryAck = false } = {},
): RecordedSimulator {
	// Fault injection for the redelivery tests: the core's ack hook, never a simulator setting.
	const keepAck = loseEveryAck ? () => false : undefined;
	const simulator = startSimulator({ baseUrl, hosts, behaviour, keepAck });
	const emitter: EventEmitter = simulator.events;
	const events: SimEvent[] = [];
	emitter.on("event", (event: SimEvent) => events.push(event));
	return {
		events,
		agent: (hostId) => simulator.agent(hostId),
		stop: () => simulator.stop(),
		waitFor(predicate, timeoutMs = 15_000) {
			const past = events.find(predicate);
			if (past) return Promise.resolve(past);
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => {
					emitter.off("event", listener);
					const seen = events.map((event) => event.type).join(", ");
					reject(new Error(`no matching simulator event within ${timeoutMs} ms; saw: ${seen}`));
				}, timeoutMs);
				const listener = (event: SimEvent) => {
					if (!predicate(event)) return;
					clearTimeout(timer);
					emitter.off("event", listener);
					resolve(event);
				};
				emitter.on("event", listener);
			});
		},
	};
}

/** `POST /v1/sessions` answer (on error, a problem with `code`). */
export interface SessionAnswer {
	sessionId: string;
	hostId: string;
	state: string;
	userChannel: { url: string };
	code?: string;
}

/** Sends the broadcast session request the CLI sends; returns the API answer. */
export async function requestSession(
	domain: string,
	vmId: string,
	key: string,
): Promise<{ status: number; body: SessionAnswer }> {
	const jwe: string = await buildSessionRequest({ baseUrl, domain, vmId, key });
	const response = await fetch(`${baseUrl}/v1/sessions`, {
		method: "POST",
		headers: { "Content-Type": "application/jose" },
		body: jwe,
	});
	return { status: response.status, body: (await response.json()) as SessionAnswer };
}

/** Whether a simulator event is the delivery of a webhook of `type` (for `migrationId`). */
export function isWebhook(event: SimEvent, type: string, migrationId?: string): boolean {
	if (event.type !== "webhook") return false;
	const delivery = event.delivery as { type: string; data: { migrationId?: string } };
	return (
		delivery.type === type &&
		(migrationId === undefined || delivery.data.migrationId === migrationId)
	);
}

/**
 * Two hosts of one domain (another site when `crossSite`) with a VM on the
 * first, both simulated with fast validation and copying; resolves once both
 * agents reported their facts. The caller stops the simulator.
 */
export async function simulatedPair(
	behaviour: Record<string, unknown> = {},
	{ crossSite = false } = {},
) {
	const source = await createHost();
	const target = await createHost(source.domain, { site: crossSite ? "ams1" : "fra1" });
	const { vmId } = await enrolVm(source.hostId);
	const facts = { ...hostFacts, memoryFreeMiB: 200_000 };
	const sim = simulate(
		[source, target].map((host) => ({ ...host, facts })),
		{ validationLatencyMs: [0, 20], migrationTimeScale: 0.01, ...behaviour },
	);
	await Promise.all(
		[source, target].map((host) =>
			sim.waitFor((event) => isWebhook(event, "host.facts") && event.hostId === host.hostId),
		),
	);
	return { sim, source, target, vmId };
}
