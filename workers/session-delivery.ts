import type { SessionOpened, SessionRequest } from "../durable-objects/service-processor";
import { BoundedMap } from "../shared/bounded-map";
import { unlessProblem } from "../shared/problem";
import { broadcastDomain, serviceProcessor } from "./stubs";

/** Holders remembered per isolate (a forgotten one costs a trip through the domain). */
const maxRememberedHolders = 10_000;

/**
 * `domain` + VM id → the host whose SP last answered for that VM, learned
 * from the domain's answers. Per isolate and memory only.
 */
const holders = new BoundedMap<string, string>(maxRememberedHolders);

function holderKey(domain: string, vmId: string): string {
	// Identifiers never contain a newline, so the pair cannot collide.
	return `${domain}\n${vmId}`;
}

/**
 * Delivers a broadcast session request. A VM the edge has seen answered goes
 * straight to that SP, which guards the jti itself; if it no longer holds
 * the VM (removed, moved, mid-handoff) it refuses and the request goes
 * through the domain as if it were new — so the answer is always the one
 * the domain would give. Everything else goes through the domain.
 */
export async function deliverSessionRequest(
	env: Env,
	request: SessionRequest,
): Promise<SessionOpened> {
	const key = holderKey(request.domain, request.vmId);
	const known = holders.get(key);
	if (known) {
		const opened = await unlessProblem(
			"vm_not_found",
			serviceProcessor(env, known).openSession(request, "direct"),
		);
		if (opened) return opened;
		holders.delete(key);
	}
	const opened = await broadcastDomain(env, request.domain).openSession(request);
	holders.set(key, opened.hostId);
	return opened;
}
