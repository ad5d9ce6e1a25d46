// Proves the PCI side of the host agent channel with real WebSockets inside
// workerd: a transfer notifies the driver host's agent with `vf.hold` before
// `vf.lift` (contract fields, the from- and to-function), notifications made
// while the agent is away arrive in the same order when it connects, and
// translate accepts that host's agent token but no other (also on the device
// a function was transferred to). It does not prove the agent channel itself
// (ids, acks, replacement): that is team access's.
import { describe, expect, it } from "vitest";
import { AgentCommand } from "../../shared/schemas/agent";
import { connectAgent } from "../support/console";
import { call, problemOf } from "../support/http";
import {
	createVf,
	devicePath,
	ensureHost,
	registerDevice,
	transfer,
	uniqueHost,
} from "../support/pci";

const driverBdf = "0000:3b:00.0";
const targetBdf = "0000:5e:00.0";

async function transferSetup() {
	const driverHost = uniqueHost("drv");
	const targetHost = uniqueHost("tgt");
	await registerDevice(driverHost, driverBdf);
	await registerDevice(targetHost, targetBdf, { vfBarBase: "0x900000000" });
	await createVf(driverHost, driverBdf, `vm-agent-${driverHost}`, "0x7f0000000000");
	return { driverHost, targetHost, agentToken: await ensureHost(driverHost) };
}

function translateWithToken(hostId: string, token: string) {
	return call(`${devicePath(hostId, driverBdf)}/translate`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: JSON.stringify({ virtualAddress: "0x7f0000000000" }),
	});
}

describe("PCI and the host agent", () => {
	it("tells the driver host's agent vf.hold before vf.lift, naming the old and the new function", async () => {
		const { driverHost, targetHost, agentToken } = await transferSetup();
		const agent = await connectAgent({ hostId: driverHost, agentToken });
		const { body } = await transfer(driverHost, driverBdf, 0, targetHost, targetBdf);
		const hold = await agent.nextJson();
		const lift = await agent.nextJson();
		const common = {
			vmId: `vm-agent-${driverHost}`,
			virtualAddress: "0x7f0000000000",
			transferId: body.transferId,
		};
		expect(hold).toEqual({
			id: expect.any(String),
			type: "vf.hold",
			hostId: driverHost,
			bdf: driverBdf,
			vfIndex: 0,
			...common,
		});
		expect(lift).toEqual({
			id: expect.any(String),
			type: "vf.lift",
			hostId: targetHost,
			bdf: targetBdf,
			vfIndex: 0,
			...common,
		});
		// The shapes the OpenAPI document publishes for the channel.
		expect(AgentCommand.safeParse(hold).success).toBe(true);
		expect(AgentCommand.safeParse(lift).success).toBe(true);
		agent.send(JSON.stringify({ type: "ack", id: hold.id }));
		agent.send(JSON.stringify({ type: "ack", id: lift.id }));
	});

	it("delivers notifications made while the agent was away in order when it connects", async () => {
		const { driverHost, targetHost, agentToken } = await transferSetup();
		await transfer(driverHost, driverBdf, 0, targetHost, targetBdf);
		const agent = await connectAgent({ hostId: driverHost, agentToken });
		const types = [(await agent.nextJson()).type, (await agent.nextJson()).type];
		expect(types).toEqual(["vf.hold", "vf.lift"]);
	});

	it("translates for the host's own agent token", async () => {
		const { driverHost, agentToken } = await transferSetup();
		const response = await translateWithToken(driverHost, agentToken);
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({ physicalAddress: "0x800000000", vfIndex: 0 });
	});

	it("translates through the device now serving the function with that host's agent token", async () => {
		const { driverHost, targetHost } = await transferSetup();
		await transfer(driverHost, driverBdf, 0, targetHost, targetBdf);
		const response = await call(`${devicePath(targetHost, targetBdf)}/translate`, {
			method: "POST",
			headers: {
				Authorization: `Bearer ${await ensureHost(targetHost)}`,
				"Content-Type": "application/json",
			},
			body: JSON.stringify({ virtualAddress: "0x7f0000000010" }),
		});
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({
			physicalAddress: "0x900000010",
			hostId: targetHost,
		});
	});

	it("refuses another host's agent token and a wrong token with unauthorized", async () => {
		const { driverHost } = await transferSetup();
		const otherToken = await ensureHost(uniqueHost("other"));
		for (const token of [otherToken, "not-a-token"]) {
			const response = await translateWithToken(driverHost, token);
			expect(response.status).toBe(401);
			expect((await problemOf(response)).code).toBe("unauthorized");
		}
	});
});
