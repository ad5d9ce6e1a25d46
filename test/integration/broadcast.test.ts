// Proves the broadcast: a request reaches every service processor of the
// domain and only the one holding the VM id answers — in a domain of 64 SPs,
// with a stale member that moved away, and mid-handoff when two SPs hold the
// row (the VirtualMachine placement decides). Also that concurrent replays
// of one jti yield exactly one session. Does not measure latency (bench/).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
	createHost,
	enrolVm,
	hostBody,
	midHandoff,
	postSession,
	requestSession,
	servedKeys,
	unique,
} from "../support/console";
import { admin } from "../support/http";
import { claimsFor, encryptRequest } from "../support/jwe";

const members = (domain: string) =>
	env.BROADCAST_DOMAIN.get(env.BROADCAST_DOMAIN.idFromName(domain)).members();

describe("broadcast", () => {
	it("finds the one SP of 64 in a domain that holds the VM", { timeout: 120_000 }, async () => {
		const domain = unique("dom");
		const hosts = [];
		for (let index = 0; index < 64; index++)
			hosts.push(await createHost(unique(`h${index}`), domain));
		expect(await members(domain)).toHaveLength(64);
		const holder = hosts[37];
		if (!holder) throw new Error("no host 37");
		// Every other SP holds some other VM, so "holds a VM" is not enough to answer.
		for (const host of hosts.slice(0, 8)) if (host !== holder) await enrolVm(host.hostId);
		const { vmId, key } = await enrolVm(holder.hostId);
		const response = await requestSession({ domain, vm: vmId, key });
		expect(response.status).toBe(201);
		expect(await response.json()).toMatchObject({ hostId: holder.hostId, vmId });
	});

	it("ignores a stale member that moved to another domain", async () => {
		const domain = unique("dom");
		const moved = await createHost(unique("host"), domain);
		const { vmId, key } = await enrolVm(moved.hostId);
		await admin("PUT", `/v1/hosts/${moved.hostId}`, hostBody(unique("dom")));
		// Even if the old domain still listed it, the SP answers only for its own domain.
		await env.BROADCAST_DOMAIN.get(env.BROADCAST_DOMAIN.idFromName(domain)).join(moved.hostId);
		const response = await requestSession({ domain, vm: vmId, key });
		expect(response.status).toBe(404);
	});

	it("asks the VM's placement when two SPs hold the row mid-handoff", async () => {
		const { domain, source, target, vmId, key, movePlacement } = await midHandoff();
		const before = await requestSession({ domain, vm: vmId, key });
		expect(await before.json()).toMatchObject({ hostId: source.hostId });
		await movePlacement();
		const after = await requestSession({ domain, vm: vmId, key });
		expect(await after.json()).toMatchObject({ hostId: target.hostId });
	});

	it("opens exactly one session from concurrent copies of one request", async () => {
		const host = await createHost();
		const { vmId, key } = await enrolVm(host.hostId);
		const [jwk] = await servedKeys();
		if (!jwk) throw new Error("no key");
		const jwe = await encryptRequest(jwk, claimsFor({ domain: host.domain, vm: vmId, key }));
		const statuses = await Promise.all(
			Array.from({ length: 8 }, async () => (await postSession(jwe)).status),
		);
		expect(statuses.filter((status) => status === 201)).toHaveLength(1);
		expect(statuses.filter((status) => status === 409)).toHaveLength(7);
	});
});
