// Proves the broadcast: a request addressed to a domain is answered by the
// one service processor holding the VM id — in a domain of 64 SPs, with a
// stale member that moved away, and mid-handoff when two SPs hold the row
// (the VirtualMachine placement decides). Also that concurrent replays of one
// jti yield exactly one session. The domain asks as few members as it can:
// the one its forwarding table (VM → member, filled by the members'
// announcements) names, else the one the VM's placement names, and floods
// every member only when that one refuses. The tests below prove the table
// follows enrolments, removals and domain moves, survives eviction, that an
// unknown VM is refused without creating storage, and that no step gives an
// answer a flood would not (VM moved to another member, host left the domain,
// mid-handoff, concurrent requests while the placement moves). Does not
// measure latency (bench/).
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
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
	userTables,
} from "../support/console";
import { admin, problemOf } from "../support/http";
import { claimsFor, encryptRequest } from "../support/jwe";
import {
	broadcastDomain,
	broadcastDomainStub,
	serviceProcessor,
	serviceProcessorStub,
	virtualMachine,
	virtualMachineStub,
} from "../support/objects";

const members = (domain: string) => broadcastDomain(domain).members();

/** The domain's forwarding table: VM id → the member holding it. */
const holders = (domain: string) =>
	runInDurableObject(broadcastDomainStub(domain), (_instance, state) =>
		Object.fromEntries(
			state.storage.sql
				.exec<{ vm_id: string; host_id: string }>("SELECT vm_id, host_id FROM holders")
				.toArray()
				.map((row) => [row.vm_id, row.host_id]),
		),
	);

/** How each session request reached the host's SP, oldest first (its audit trail). */
async function routesTo(hostId: string): Promise<unknown[]> {
	const response = await admin("GET", `/v1/hosts/${hostId}/audit`);
	const { events } = (await response.json()) as {
		events: Array<{ type: string; detail: { route?: unknown } | null }>;
	};
	return events
		.filter((event) => event.type === "session.requested")
		.map((event) => event.detail?.route)
		.reverse();
}

/** Empties the forwarding table, as if every announcement had been lost. */
const forgetHolders = (domain: string) =>
	runInDurableObject(broadcastDomainStub(domain), (_instance, state) => {
		state.storage.sql.exec("DELETE FROM holders");
	});

describe("broadcast", () => {
	it("floods all 64 SPs to find the holder when the placed member refuses", {
		timeout: 120_000,
	}, async () => {
		const domain = unique("dom");
		const hosts = [];
		for (let index = 0; index < 64; index++)
			hosts.push(await createHost(unique(`h${index}`), domain));
		const memberIds = await members(domain);
		expect(memberIds).toHaveLength(64);
		// The holder is the member a flood asks last: a flood that stops short misses it.
		const misplaced = hosts.find((host) => host.hostId === memberIds[0]);
		const holder = hosts.find((host) => host.hostId === memberIds.at(-1));
		if (!misplaced || !holder) throw new Error("missing hosts");
		// Every other SP holds some other VM, so "holds a VM" is not enough to answer.
		for (const host of hosts.slice(0, 8)) if (host !== holder) await enrolVm(host.hostId);
		const { vmId, key } = await enrolVm(holder.hostId);
		// No table entry, and a placement naming a member without the row: as if
		// the VM had moved between the domain's lookup and the member's answer.
		await forgetHolders(domain);
		await runInDurableObject(virtualMachineStub(vmId), (_instance, state) => {
			state.storage.sql.exec("UPDATE placement SET host_id = ?", misplaced.hostId);
		});
		const response = await requestSession({ domain, vm: vmId, key });
		expect(response.status).toBe(201);
		expect(await response.json()).toMatchObject({ hostId: holder.hostId, vmId });
		expect(await routesTo(holder.hostId)).toEqual(["flooded"]);
		expect(await holders(domain)).toEqual({ [vmId]: holder.hostId });
	});

	it("refuses a VM id no SP table holds without asking any member or creating storage", async () => {
		const domain = unique("dom");
		const host = await createHost(unique("host"), domain);
		await enrolVm(host.hostId);
		const broken = await createHost(unique("broken"), domain);
		// A member that cannot answer: a flood would end in 500 internal, not 404.
		await runInDurableObject(serviceProcessorStub(broken.hostId), (_instance, state) => {
			state.storage.sql.exec("DROP TABLE vms");
		});
		const before = await holders(domain);
		const vmId = unique("vm");
		const response = await requestSession({ domain, vm: vmId, key: "any" });
		expect(response.status).toBe(404);
		expect(await problemOf(response)).toMatchObject({ code: "vm_not_found" });
		expect(await userTables(virtualMachineStub(vmId))).toEqual([]);
		expect(await holders(domain)).toEqual(before);
	});

	it("refuses a VM placed on a host outside the domain", async () => {
		const domain = unique("dom");
		await createHost(unique("host"), domain);
		const elsewhere = await createHost();
		const { vmId, key } = await enrolVm(elsewhere.hostId);
		const response = await requestSession({ domain, vm: vmId, key });
		expect(response.status).toBe(404);
		expect(await problemOf(response)).toMatchObject({ code: "vm_not_found" });
		expect(await holders(domain)).toEqual({});
		expect((await requestSession({ domain: elsewhere.domain, vm: vmId, key })).status).toBe(201);
	});

	it("ignores a stale member that moved to another domain", async () => {
		const domain = unique("dom");
		const moved = await createHost(unique("host"), domain);
		const { vmId, key } = await enrolVm(moved.hostId);
		await admin("PUT", `/v1/hosts/${moved.hostId}`, hostBody(unique("dom")));
		// Even if the old domain still listed it, the SP answers only for its own domain.
		await broadcastDomain(domain).join(moved.hostId);
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

	describe("forwarding table", () => {
		it("holds an enrolled VM under its host before any request", async () => {
			const domain = unique("dom");
			await createHost(unique("host"), domain);
			const holder = await createHost(unique("host"), domain);
			const { vmId } = await enrolVm(holder.hostId);
			expect(await holders(domain)).toEqual({ [vmId]: holder.hostId });
		});

		it("drops a removed VM", async () => {
			const host = await createHost();
			const kept = await enrolVm(host.hostId);
			const removed = await enrolVm(host.hostId);
			await admin("DELETE", `/v1/hosts/${host.hostId}/vms/${removed.vmId}`);
			expect(await holders(host.domain)).toEqual({ [kept.vmId]: host.hostId });
		});

		it("moves a host's VMs with the host to its new domain", async () => {
			const host = await createHost();
			const { vmId } = await enrolVm(host.hostId);
			const newDomain = unique("dom");
			await admin("PUT", `/v1/hosts/${host.hostId}`, hostBody(newDomain));
			expect(await holders(host.domain)).toEqual({});
			expect(await holders(newDomain)).toEqual({ [vmId]: host.hostId });
		});

		it("ignores an announcement from a host that is not a member", async () => {
			const host = await createHost();
			const outsider = unique("host");
			await broadcastDomain(host.domain).announce(outsider, unique("vm"));
			expect(await holders(host.domain)).toEqual({});
		});

		it("keeps a withdrawal from removing another member's entry", async () => {
			const domain = unique("dom");
			const first = await createHost(unique("host"), domain);
			const second = await createHost(unique("host"), domain);
			const { vmId } = await enrolVm(second.hostId);
			await broadcastDomain(domain).withdraw(first.hostId, vmId);
			expect(await holders(domain)).toEqual({ [vmId]: second.hostId });
		});

		it("survives the domain object's eviction", async () => {
			const domain = unique("dom");
			await createHost(unique("host"), domain);
			const holder = await createHost(unique("host"), domain);
			const { vmId, key } = await enrolVm(holder.hostId);
			await evictDurableObject(broadcastDomainStub(domain));
			expect(await holders(domain)).toEqual({ [vmId]: holder.hostId });
			const response = await requestSession({ domain, vm: vmId, key });
			expect(await response.json()).toMatchObject({ hostId: holder.hostId });
		});
	});

	describe("from the edge straight to the holder", () => {
		/** Whether `stub`'s replay guard holds `jti`. */
		const guards = (stub: DurableObjectStub, jti: string) =>
			runInDurableObject(
				stub,
				(_instance, state) =>
					state.storage.sql.exec("SELECT 1 FROM seen_jtis WHERE jti = ?", jti).toArray().length > 0,
			);

		it("sends a VM's later requests to its holder without the domain", async () => {
			const host = await createHost();
			const { vmId, key } = await enrolVm(host.hostId);
			const target = { domain: host.domain, vm: vmId, key };
			expect((await requestSession(target)).status).toBe(201);
			const jti = crypto.randomUUID();
			expect((await requestSession(target, { jti })).status).toBe(201);
			expect(await guards(broadcastDomainStub(host.domain), jti)).toBe(false);
			expect(await guards(serviceProcessorStub(host.hostId), jti)).toBe(true);
			// The first went through the domain's table (announced on enrolment), the second came straight.
			expect(await routesTo(host.hostId)).toEqual(["learned", "direct"]);
		});

		it("judges a jti per VM, with the same answers whether a request comes direct or through the domain", async () => {
			const host = await createHost();
			const cached = await enrolVm(host.hostId);
			const fresh = await enrolVm(host.hostId);
			const toCached = { domain: host.domain, vm: cached.vmId, key: cached.key };
			const toFresh = { domain: host.domain, vm: fresh.vmId, key: fresh.key };
			const toUnknown = { domain: host.domain, vm: unique("vm"), key: "none" };
			// The edge learns the cached VM's holder; the fresh one still goes through the domain.
			expect((await requestSession(toCached)).status).toBe(201);
			const jti = crypto.randomUUID();
			expect((await requestSession(toUnknown, { jti })).status).toBe(404);
			expect((await requestSession(toCached, { jti })).status).toBe(201);
			expect((await requestSession(toFresh, { jti })).status).toBe(201);
			for (const target of [toCached, toFresh]) {
				const replay = await requestSession(target, { jti });
				expect(await problemOf(replay)).toMatchObject({ code: "replayed_request" });
			}
			// A VM nobody holds costs no storage (as an unknown domain): its replay is refused as before.
			const replay = await requestSession(toUnknown, { jti });
			expect(await problemOf(replay)).toMatchObject({ code: "vm_not_found" });
			expect(await routesTo(host.hostId)).toEqual(["learned", "direct", "learned"]);
		});

		it("refuses a replay of a request the holder was sent directly", async () => {
			const host = await createHost();
			const { vmId, key } = await enrolVm(host.hostId);
			const target = { domain: host.domain, vm: vmId, key };
			expect((await requestSession(target)).status).toBe(201);
			const [jwk] = await servedKeys();
			if (!jwk) throw new Error("no key");
			const jwe = await encryptRequest(jwk, claimsFor(target));
			expect((await postSession(jwe)).status).toBe(201);
			const replay = await postSession(jwe);
			expect(replay.status).toBe(409);
			expect(await problemOf(replay)).toMatchObject({ code: "replayed_request" });
		});

		it("refuses on the new holder a replay of a request the old holder served", async () => {
			let served = "";
			let servedBy: unknown;
			const { domain, source, target, vmId, key, movePlacement } = await midHandoff(async (vm) => {
				expect((await requestSession(vm)).status).toBe(201);
				const [jwk] = await servedKeys();
				if (!jwk) throw new Error("no key");
				served = await encryptRequest(jwk, claimsFor(vm));
				servedBy = await (await postSession(served)).json();
			});
			expect(servedBy).toMatchObject({ hostId: source.hostId });
			await movePlacement();
			await serviceProcessor(source.hostId).releaseVm(vmId, "vm_migrated");
			// The domain never saw it; the target learned its jti with the row.
			const replay = await postSession(served);
			expect(replay.status).toBe(409);
			expect(await problemOf(replay)).toMatchObject({ code: "replayed_request" });
			const fresh = await requestSession({ domain, vm: vmId, key });
			expect(await fresh.json()).toMatchObject({ hostId: target.hostId });
		});
	});

	describe("learned holders", () => {
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

		it("sends the VM to its placed member alone when its entry was lost, and learns it", async () => {
			const domain = unique("dom");
			const broken = await createHost(unique("broken"), domain);
			const holder = await createHost(unique("host"), domain);
			const { vmId, key } = await enrolVm(holder.hostId);
			await forgetHolders(domain);
			// A member that cannot answer: a flood would still find the holder, but it is not asked.
			await runInDurableObject(serviceProcessorStub(broken.hostId), (_instance, state) => {
				state.storage.sql.exec("DROP TABLE vms");
			});
			const response = await requestSession({ domain, vm: vmId, key });
			expect(await response.json()).toMatchObject({ hostId: holder.hostId });
			expect(await routesTo(holder.hostId)).toEqual(["placed"]);
			expect(await holders(domain)).toEqual({ [vmId]: holder.hostId });
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

		it("keeps the handoff mark when the source object is evicted", async () => {
			const { domain, source, target, vmId, key, movePlacement } = await midHandoff(async (vm) => {
				// The edge and the domain both learn the source before the handoff starts.
				expect((await requestSession(vm)).status).toBe(201);
			});
			await evictDurableObject(serviceProcessorStub(source.hostId));
			await movePlacement();
			const response = await requestSession({ domain, vm: vmId, key });
			expect(await response.json()).toMatchObject({ hostId: target.hostId });
		});

		it("answers from a host the VM came back to after migrating away", async () => {
			const domain = unique("dom");
			const first = await createHost(unique("a"), domain);
			const second = await createHost(unique("b"), domain);
			const { vmId, key } = await enrolVm(first.hostId);
			const sp = serviceProcessor;
			const vm = virtualMachine(vmId);
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
