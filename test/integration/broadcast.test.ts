// Proves the broadcast: a request reaches every service processor of the
// domain and only the one holding the VM id answers — in a domain of 64 SPs,
// with a stale member that moved away, and mid-handoff when two SPs hold the
// row (the VirtualMachine placement decides). Also that concurrent replays
// of one jti yield exactly one session. The domain learns which member
// answered for a VM and sends later requests there alone; the tests below
// prove a learned entry never gives an answer a flood would not (VM moved
// to another member, host left the domain, mid-handoff, domain evicted,
// concurrent requests while the placement moves). Does not measure latency
// (bench/).
import { evictDurableObject } from "cloudflare:test";
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
	serviceProcessor,
	unique,
} from "../support/console";
import { admin, problemOf } from "../support/http";
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

	describe("learned holders", () => {
		const domainObject = (domain: string) =>
			env.BROADCAST_DOMAIN.get(env.BROADCAST_DOMAIN.idFromName(domain));

		it("finds the VM on its new member after it left the learned one", async () => {
			const domain = unique("dom");
			const first = await createHost(unique("host"), domain);
			const second = await createHost(unique("host"), domain);
			const { vmId, key } = await enrolVm(first.hostId);
			expect(await (await requestSession({ domain, vm: vmId, key })).json()).toMatchObject({
				hostId: first.hostId,
			});
			await admin("DELETE", `/v1/hosts/${first.hostId}/vms/${vmId}`);
			const { key: newKey } = await enrolVm(second.hostId, vmId);
			const response = await requestSession({ domain, vm: vmId, key: newKey });
			expect(response.status).toBe(201);
			expect(await response.json()).toMatchObject({ hostId: second.hostId });
		});

		it("answers 404 once the learned member moved to another domain", async () => {
			const domain = unique("dom");
			const host = await createHost(unique("host"), domain);
			const { vmId, key } = await enrolVm(host.hostId);
			expect((await requestSession({ domain, vm: vmId, key })).status).toBe(201);
			await admin("PUT", `/v1/hosts/${host.hostId}`, hostBody(unique("dom")));
			const response = await requestSession({ domain, vm: vmId, key });
			expect(response.status).toBe(404);
			expect(await problemOf(response)).toMatchObject({ code: "vm_not_found" });
		});

		it("relearns by flooding after the domain object is evicted", async () => {
			const domain = unique("dom");
			await createHost(unique("host"), domain);
			const holder = await createHost(unique("host"), domain);
			const { vmId, key } = await enrolVm(holder.hostId);
			// The body is read so no request to the domain is still in flight.
			expect(await (await requestSession({ domain, vm: vmId, key })).json()).toMatchObject({
				hostId: holder.hostId,
			});
			await evictDurableObject(domainObject(domain));
			const response = await requestSession({ domain, vm: vmId, key });
			expect(await response.json()).toMatchObject({ hostId: holder.hostId });
		});

		it("lets the placement decide once the learned source exported the row", async () => {
			const { domain, target, vmId, key, movePlacement } = await midHandoff(async (vm) => {
				// The domain learns the source before the handoff starts.
				expect((await requestSession(vm)).status).toBe(201);
			});
			await movePlacement();
			// Both tables still hold the row; concurrent requests all reach the placement.
			const answers = await Promise.all(
				Array.from({ length: 6 }, async () => {
					const response = await requestSession({ domain, vm: vmId, key });
					return { status: response.status, body: (await response.json()) as { hostId: string } };
				}),
			);
			for (const answer of answers) {
				expect(answer.status).toBe(201);
				expect(answer.body.hostId).toBe(target.hostId);
			}
		});

		it("answers from a host the VM came back to after migrating away", async () => {
			const domain = unique("dom");
			const first = await createHost(unique("a"), domain);
			const second = await createHost(unique("b"), domain);
			const { vmId, key } = await enrolVm(first.hostId);
			const sp = serviceProcessor;
			const vm = env.VIRTUAL_MACHINE.get(env.VIRTUAL_MACHINE.idFromName(vmId));
			const handOff = async (from: string, to: string) => {
				const row = await sp(from).exportVm(vmId);
				if (!row) throw new Error("no row");
				await sp(to).adoptVm(row);
				await vm.movePlacement(from, to);
				await sp(from).releaseVm(vmId, "vm_migrated");
			};
			await handOff(first.hostId, second.hostId);
			expect(await (await requestSession({ domain, vm: vmId, key })).json()).toMatchObject({
				hostId: second.hostId,
			});
			await handOff(second.hostId, first.hostId);
			// Learned twice over: the first host must answer alone again, with no stale mark.
			for (let attempt = 0; attempt < 2; attempt++) {
				const response = await requestSession({ domain, vm: vmId, key });
				expect(await response.json()).toMatchObject({ hostId: first.hostId });
			}
		});
	});
});
