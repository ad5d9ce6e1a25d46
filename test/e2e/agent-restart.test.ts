// Proves the agent core's at-most-once guarantee across a restart: a
// `migration.start` the agent received but never acked is redelivered to the
// next agent process, which finds its id in the command log on disk and does
// not carry it out again. Real `wrangler dev`, real control channel; the
// driver is a counting stand-in (the QEMU driver is proven in qemu-agent.test.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { createHostAgent } from "../../agent/host-agent.mjs";
import { admin, createHost, enrolVm, type SimEvent } from "./agent-sim-support";
import { connectAgent } from "./support/migration-agent";
import { eventually } from "./support/qemu-host";

const baseUrl = inject("baseUrl");
const dir = await mkdtemp(join(tmpdir(), "edgevisor-restart-"));

afterAll(async () => {
	await rm(dir, { recursive: true, force: true });
});

/** A driver that counts the migrations it was asked to start. */
function countingDriver() {
	const started: string[] = [];
	return {
		started,
		driver: {
			start: async () => {},
			connected: async () => {},
			openConsole: async () => ({ error: "no consoles here" }),
			check: async () => ({ ok: true, detail: "" }),
			migrate: async (command: { migrationId: string }) => {
				started.push(command.migrationId);
			},
			cancel: async () => {},
			notify: () => {},
			stop: async () => {},
		},
	};
}

describe("the agent's command log", () => {
	it("does not carry out a redelivered migration.start after a restart", async () => {
		const source = await createHost();
		const target = await createHost(source.domain);
		const { vmId } = await enrolVm(source.hostId);
		const commandLogPath = join(dir, "command-ids");
		const events: SimEvent[] = [];
		const emit = (event: SimEvent) => events.push(event);

		const agentProcess = (driver: ReturnType<typeof countingDriver>, keepAck = () => true) => {
			const agent = createHostAgent({
				baseUrl,
				host: source,
				driver: driver.driver,
				emit,
				commandLogPath,
				keepAck,
			});
			agent.start();
			return agent;
		};

		// The shipped policy moves a VM only to a host whose agent is connected.
		const targetAgent = await connectAgent(baseUrl, target);
		const first = countingDriver();
		// The first process loses every ack, so the server keeps the command for the next.
		const before = agentProcess(first, () => false);
		const { body: record } = await admin<{ migrationId: string; state: string }>(
			"POST",
			"/v1/migrations",
			{
				vmId,
				targetHostId: target.hostId,
			},
		);
		expect(record.state).toBe("migrating");
		await eventually(
			() => first.started.length,
			(count) => count === 1,
			10_000,
			"the first start",
		);
		await before.stop();

		const second = countingDriver();
		const after = agentProcess(second);
		const redelivered = await eventually(
			() => events.find((event) => event.type === "command" && event.duplicate === true),
			(event) => event !== undefined,
			10_000,
			"the redelivered command",
		);
		expect(redelivered?.command).toMatchObject({
			type: "migration.start",
			migrationId: record.migrationId,
		});
		expect(second.started).toEqual([]);
		expect(first.started).toEqual([record.migrationId]);
		await after.stop();
		targetAgent.close();
	});
});
