import { DurableObject } from "cloudflare:workers";
import { Problem } from "../shared/problem";

// Placeholder signatures of the cross-object contract (see the team brief);
// team "access" replaces every body below with the real implementation.

/** A host and its latest facts, as rules and routes see it. */
export interface HostRecord {
	hostId: string;
	domain: string;
	site: string;
	cpu: { model: string; flags: string[] };
	memoryMiB: number;
	hypervisor: { name: string; version: string };
	facts: { memoryFreeMiB?: number; [fact: string]: unknown };
	createdAt: string;
	updatedAt: string;
}

/** One SP-table row, internal only (it carries the key hash). */
export interface VmRow {
	vmId: string;
	keyHash: string;
	keyVersion: number;
	memoryMiB: number;
	vcpus: number;
	enrolledAt: string;
}

/** A command for the host agent before it is given an id. */
export type AgentCommandInput = { type: string; [field: string]: unknown };

const notYet = () => new Problem("internal", "service processor not implemented yet");

export class ServiceProcessor extends DurableObject<Env> {
	async enqueueAgentCommand(_command: AgentCommandInput): Promise<string> {
		throw notYet();
	}
	async getHost(): Promise<HostRecord | null> {
		throw notYet();
	}
	async verifyAgentToken(_token: string): Promise<boolean> {
		throw notYet();
	}
	async verifyWebhook(
		_headers: Record<string, string>,
		_rawBody: string,
	): Promise<{ duplicate: boolean; event: { type: string; data: unknown } }> {
		throw notYet();
	}
	async recordFacts(_facts: Record<string, unknown>): Promise<void> {
		throw notYet();
	}
	async exportVm(_vmId: string): Promise<VmRow | null> {
		throw notYet();
	}
	async adoptVm(_row: VmRow): Promise<void> {
		throw notYet();
	}
	async releaseVm(_vmId: string, _reason: string): Promise<void> {
		throw notYet();
	}
}
