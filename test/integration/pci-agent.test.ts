// Proves that translate accepts the agent token of the host in the path and
// no other token. It does not prove the agent channel itself (ids, acks,
// replacement): that is team access's.
import { describe, expect, it } from "vitest";
import { call, problemOf } from "../support/http";
import { createVf, devicePath, ensureHost, registerDevice, uniqueHost } from "../support/pci";

const driverBdf = "0000:3b:00.0";
const targetBdf = "0000:5e:00.0";

async function transferSetup() {
	const driverHost = uniqueHost("drv");
	const targetHost = uniqueHost("tgt");
	await registerDevice(driverHost, driverBdf);
	await registerDevice(targetHost, targetBdf, { vfBarBase: "0x900000000" });
	await createVf(driverHost, driverBdf, "vm-agent", "0x7f0000000000");
	return { driverHost, targetHost, agentToken: await ensureHost(driverHost) };
}

function translateWithToken(hostId: string, token: string) {
	return call(`${devicePath(hostId, driverBdf)}/translate`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		body: JSON.stringify({ virtualAddress: "0x7f0000000000" }),
	});
}

describe("translate with an agent token", () => {
	it("translates for the host's own agent token", async () => {
		const { driverHost, agentToken } = await transferSetup();
		const response = await translateWithToken(driverHost, agentToken);
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({ physicalAddress: "0x800000000", vfIndex: 0 });
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
