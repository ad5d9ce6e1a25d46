// Proves the translation guarantee of API.md under concurrency: while a chain
// of transfers runs, 16 clients translate in a loop through the driver's
// device, and every answer is checked against the real-time window of the
// transfers (a logical clock ticks at every send and receive, so "before" and
// "after" are exact): a version is answered only while it could be current,
// the physical address is the one that version maps to, versions never go
// backwards for a client, and no translate fails. It does not prove
// anything about eviction (see pci-recovery.test.ts) or timing.
import { describe, expect, it } from "vitest";
import { admin } from "../support/http";
import { createVf, devicePath, registerDevice, uniqueHost } from "../support/pci";

const clients = 16;
const transfers = 8;
const virtualAddress = 0x7f00_0000_0000n;

interface Observation {
	sentAt: number;
	receivedAt: number;
	status: number;
	version: number;
	physicalAddress: string;
	probe: bigint;
}

describe("translate during transfers", () => {
	it("answers every translate with an address that was current during the request, never a failure", async () => {
		const driverHost = uniqueHost("drv");
		const targetHost = uniqueHost("tgt");
		const driverBdf = "0000:3b:00.0";
		const targetBdfs = ["0000:5e:00.0", "0000:af:00.0"];
		await registerDevice(driverHost, driverBdf);
		await registerDevice(targetHost, targetBdfs[0] as string, { vfBarBase: "0x900000000" });
		await registerDevice(targetHost, targetBdfs[1] as string, { vfBarBase: "0xa00000000" });
		const created = await createVf(driverHost, driverBdf, `vm-lin-${driverHost}`, "0x7f0000000000");

		let clock = 0;
		const tick = () => ++clock;
		// Version v is produced by the transfer with index v - 2; base address per version.
		const baseByVersion = new Map<number, bigint>([[1, BigInt(created.baseAddress)]]);
		const transferWindows: Array<{ sentAt: number; receivedAt: number; version: number }> = [];
		let done = false;

		async function client(seed: number): Promise<Observation[]> {
			const seen: Observation[] = [];
			let round = 0;
			while (!done || round < 3) {
				if (done) round++;
				const probe = virtualAddress + BigInt((seed * 977 + seen.length * 131) % 0x4000);
				const sentAt = tick();
				const response = await admin("POST", `${devicePath(driverHost, driverBdf)}/translate`, {
					virtualAddress: `0x${probe.toString(16)}`,
				});
				const body = (await response.json()) as { mappingVersion: number; physicalAddress: string };
				seen.push({
					sentAt,
					receivedAt: tick(),
					status: response.status,
					version: body.mappingVersion,
					physicalAddress: body.physicalAddress,
					probe,
				});
			}
			return seen;
		}

		async function transferChain(): Promise<void> {
			let from = { hostId: driverHost, bdf: driverBdf, vfIndex: 0 };
			for (let index = 0; index < transfers; index++) {
				const targetBdf = targetBdfs[index % 2] as string;
				const sentAt = tick();
				const response = await admin(
					"POST",
					`${devicePath(from.hostId, from.bdf)}/vfs/${from.vfIndex}/transfer`,
					{
						targetHostId: targetHost,
						targetBdf,
					},
				);
				const receivedAt = tick();
				expect(response.status).toBe(200);
				const body = (await response.json()) as {
					mappingVersion: number;
					to: { hostId: string; bdf: string; vfIndex: number; baseAddress: string };
				};
				transferWindows.push({ sentAt, receivedAt, version: body.mappingVersion });
				baseByVersion.set(body.mappingVersion, BigInt(body.to.baseAddress));
				from = body.to;
			}
			done = true;
		}

		const [results] = await Promise.all([
			Promise.all(Array.from({ length: clients }, (_, seed) => client(seed))),
			transferChain(),
		]);

		/** The earliest tick version v may be answered, and the latest tick it may still be. */
		const window = (version: number) => ({
			from:
				version === 1
					? 0
					: (transferWindows.find((t) => t.version === version)?.sentAt ?? Infinity),
			until: transferWindows.find((t) => t.version === version + 1)?.receivedAt ?? Infinity,
		});
		let answered = 0;
		for (const observations of results) {
			let lastVersion = 0;
			for (const seen of observations) {
				expect(
					seen.status,
					JSON.stringify(seen, (_, v) => (typeof v === "bigint" ? v.toString(16) : v)),
				).toBe(200);
				const { from, until } = window(seen.version);
				// Answered while version `seen.version` could be current.
				expect(seen.receivedAt).toBeGreaterThan(from);
				expect(seen.sentAt).toBeLessThan(until);
				const base = baseByVersion.get(seen.version) as bigint;
				expect(seen.physicalAddress).toBe(`0x${(base + seen.probe - virtualAddress).toString(16)}`);
				expect(seen.version).toBeGreaterThanOrEqual(lastVersion);
				lastVersion = seen.version;
				answered++;
			}
		}
		expect(transferWindows.map((t) => t.version)).toEqual(
			Array.from({ length: transfers }, (_, i) => i + 2),
		);
		expect(answered).toBeGreaterThan(clients * 3);
	});
});
