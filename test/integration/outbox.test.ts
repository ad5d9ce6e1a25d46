// Proves the shared outbox (durable-objects/outbox.ts) in a real Durable
// Object's SQLite: a message exists exactly when the transaction that queued
// it commits; each lane is delivered in order, once per pass even when passes
// overlap; a failed delivery blocks only its lane and waits out its back-off;
// rows outlive an eviction and are delivered by the object's alarm; and rows
// queued before the shared outbox existed are carried into it by the schema
// steps of each object, in order.
// The generic cases run an Outbox of their own over an unregistered PciDevice
// (any object with the outbox table would do); the alarm case uses that
// object's own outbox and delivery. Does not prove what each object queues
// (the pci, migration and host tests do).
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { inlineGraceMs, Outbox } from "../../durable-objects/outbox";
import type { PciDevice } from "../../durable-objects/pci-device";
import { type DriverNotification, peerDelivery } from "../../durable-objects/pci-device/peers";
import { schema as pciDeviceSchema } from "../../durable-objects/pci-device/schema";
import { serviceProcessorSchema } from "../../durable-objects/service-processor/schema";
import { migrateSchema } from "../../durable-objects/sql";
import {
	migrationSchema,
	migrationSchemaKey,
} from "../../durable-objects/virtual-machine/migration-store";
import { outboxBackoff } from "../../shared/backoff";
import { connectAgent, unique } from "../support/console";
import { ensureHost } from "../support/pci";

type Note = { lane: string; text: string };

/** An object with an outbox table and nothing queued, unique to the test. */
function freshObject(): DurableObjectStub<PciDevice> {
	return env.PCI_DEVICE.get(env.PCI_DEVICE.idFromName(unique("outbox")));
}

/** An outbox over `sql` whose deliveries are recorded, failing while `failing` names the text. */
function recordingOutbox(sql: SqlStorage) {
	const delivered: string[] = [];
	const failing = new Set<string>();
	const outbox = new Outbox<Note>(sql, {
		laneOf: (note) => note.lane,
		async deliver(note) {
			if (failing.has(note.text)) throw new Error(`refused ${note.text}`);
			delivered.push(note.text);
		},
	});
	return { outbox, delivered, failing };
}

function rows(sql: SqlStorage) {
	return sql
		.exec<{ payload: string; attempts: number; next_attempt_ms: number }>(
			"SELECT payload, attempts, next_attempt_ms FROM outbox ORDER BY seq",
		)
		.toArray()
		.map((row) => ({ ...row, text: (JSON.parse(row.payload) as Note).text }));
}

describe("the outbox", () => {
	it("queues nothing when the transaction that added the message rolls back", async () => {
		await runInDurableObject(freshObject(), (_instance, state) => {
			const { outbox } = recordingOutbox(state.storage.sql);
			expect(() =>
				state.storage.transactionSync(() => {
					outbox.add({ lane: "a", text: "a1" });
					throw new Error("the change failed");
				}),
			).toThrow("the change failed");
			expect(rows(state.storage.sql)).toEqual([]);
			expect(outbox.nextAttemptMs()).toBeUndefined();
		});
	});

	it("delivers each lane in the order queued and forgets what it delivered", async () => {
		await runInDurableObject(freshObject(), async (_instance, state) => {
			const { outbox, delivered } = recordingOutbox(state.storage.sql);
			for (const text of ["a1", "b1", "a2", "b2", "a3"]) outbox.add({ lane: text[0] ?? "", text });
			await outbox.flush();
			expect(delivered.filter((text) => text.startsWith("a"))).toEqual(["a1", "a2", "a3"]);
			expect(delivered.filter((text) => text.startsWith("b"))).toEqual(["b1", "b2"]);
			expect(rows(state.storage.sql)).toEqual([]);
		});
	});

	it("says the alarm is needed only as a backstop for a message not yet tried", async () => {
		await runInDurableObject(freshObject(), (_instance, state) => {
			const { outbox } = recordingOutbox(state.storage.sql);
			const queuedAt = Date.now();
			outbox.add({ lane: "a", text: "a1" });
			expect(outbox.nextAttemptMs()).toBe(queuedAt + inlineGraceMs);
		});
	});

	it("holds back only the failed lane, and retries it once its back-off has passed", async () => {
		await runInDurableObject(freshObject(), async (_instance, state) => {
			const { sql } = state.storage;
			const { outbox, delivered, failing } = recordingOutbox(sql);
			failing.add("a1");
			for (const text of ["a1", "a2", "b1"]) outbox.add({ lane: text[0] ?? "", text });
			const before = Date.now();
			await outbox.flush();
			expect(delivered).toEqual(["b1"]);
			const [failed] = rows(sql);
			expect(failed).toMatchObject({ text: "a1", attempts: 1 });
			expect(failed?.next_attempt_ms).toBeGreaterThanOrEqual(before + outboxBackoff.firstMs);
			expect(outbox.nextAttemptMs()).toBe(failed?.next_attempt_ms);

			// Asked again within the back-off, the lane stays put.
			failing.delete("a1");
			await outbox.flush("a");
			expect(delivered).toEqual(["b1"]);

			// As if the back-off had passed.
			sql.exec("UPDATE outbox SET next_attempt_ms = ?", Date.now());
			await outbox.flush("a");
			expect(delivered).toEqual(["b1", "a1", "a2"]);
			expect(rows(sql)).toEqual([]);
		});
	});

	it("doubles the back-off with each failure, and wakes the alarm for a lane's first message only", async () => {
		await runInDurableObject(freshObject(), async (_instance, state) => {
			const { sql } = state.storage;
			const { outbox, failing } = recordingOutbox(sql);
			failing.add("a1");
			outbox.add({ lane: "a", text: "a1" });
			outbox.add({ lane: "a", text: "a2" });
			const waits: number[] = [];
			for (let attempt = 1; attempt <= 4; attempt++) {
				const before = Date.now();
				await outbox.flush();
				const [head] = rows(sql);
				waits.push((head?.next_attempt_ms ?? 0) - before);
				// a2 waits behind a1, so its own (long past) grace does not pull the alarm forward.
				expect(outbox.nextAttemptMs()).toBe(head?.next_attempt_ms);
				sql.exec("UPDATE outbox SET next_attempt_ms = ? WHERE attempts > 0", Date.now());
			}
			const { firstMs } = outboxBackoff;
			// Date.now() moves only across I/O, so each wait is exact to a few ms.
			expect(waits.map((waitMs) => Math.round(waitMs / firstMs))).toEqual([1, 2, 4, 8]);
		});
	});

	it("delivers each message once when passes over one lane overlap", async () => {
		await runInDurableObject(freshObject(), async (_instance, state) => {
			const delivered: string[] = [];
			let release = () => {};
			const gate = new Promise<void>((resolve) => {
				release = resolve;
			});
			const outbox = new Outbox<Note>(state.storage.sql, {
				laneOf: (note) => note.lane,
				async deliver(note) {
					await gate;
					delivered.push(note.text);
				},
			});
			outbox.add({ lane: "a", text: "a1" });
			const first = outbox.flush("a");
			outbox.add({ lane: "a", text: "a2" });
			const second = outbox.flush();
			release();
			await Promise.all([first, second]);
			expect(delivered).toEqual(["a1", "a2"]);
		});
	});
});

describe("an object's outbox after eviction", () => {
	it("is delivered by the object's alarm once the peer accepts it", async () => {
		const hostId = unique("outbox-host");
		const device = freshObject();
		const command: DriverNotification = {
			type: "vf.hold",
			hostId,
			bdf: "0000:3b:00.0",
			vfIndex: 0,
			vmId: unique("vm"),
			virtualAddress: "0x7f0000000000",
			transferId: unique("transfer"),
		};
		// The host does not exist yet, so its service processor refuses the command.
		// Queued and tried as the device's own parts do, over the device's table.
		await runInDurableObject(device, async (_instance, state) => {
			const outbox = new Outbox(state.storage.sql, peerDelivery(env));
			state.storage.transactionSync(() => outbox.add({ channel: `agent:${hostId}`, command }));
			await outbox.flush();
			const nextAttemptMs = outbox.nextAttemptMs();
			expect(nextAttemptMs).toBe(rows(state.storage.sql)[0]?.next_attempt_ms);
			if (nextAttemptMs) await state.storage.setAlarm(nextAttemptMs);
		});
		await evictDurableObject(device);
		const agent = await connectAgent({ hostId, agentToken: await ensureHost(hostId) });
		// The alarm fires on its own once the back-off has passed (again, should it beat the host).
		expect(await agent.nextJson()).toEqual({ ...command, id: expect.any(String) });
		const left = await runInDurableObject(device, (_instance, state) => rows(state.storage.sql));
		expect(left).toEqual([]);
	});
});

describe("rows queued before the shared outbox", () => {
	/**
	 * Builds `steps` up to `version` in an object that stored nothing yet,
	 * seeds the old tables, upgrades, and returns the outbox and the tables left.
	 */
	function upgrade(
		steps: ReadonlyArray<string>,
		version: number,
		seed: (sql: SqlStorage) => void,
		key?: string,
	) {
		const blank = env.SERVICE_PROCESSOR.get(env.SERVICE_PROCESSOR.idFromName(unique("blank")));
		return runInDurableObject(blank, (_instance, state) => {
			const { sql } = state.storage;
			migrateSchema(state.storage, steps.slice(0, version), key);
			seed(sql);
			migrateSchema(state.storage, steps, key);
			const outbox = sql
				.exec<{ lane: string; payload: string; attempts: number; next_attempt_ms: number }>(
					"SELECT lane, payload, attempts, next_attempt_ms FROM outbox ORDER BY seq",
				)
				.toArray()
				.map(({ payload, ...row }) => ({ ...row, message: JSON.parse(payload) as unknown }));
			const tables = sql
				.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
				.toArray()
				.map((row) => row.name);
			return { outbox, tables };
		});
	}

	it("moves a service processor's directory tasks into its outbox, in order", async () => {
		const { outbox, tables } = await upgrade(serviceProcessorSchema, 8, (sql) =>
			sql.exec(
				`INSERT INTO directory_tasks (kind, domain, vm_id)
				 VALUES ('directory', 'dom-a', NULL), ('leave', 'dom-b', NULL), ('announce', 'dom-a', 'vm-1')`,
			),
		);
		const due = { lane: "directory", attempts: 0, next_attempt_ms: 0 };
		expect(outbox).toEqual([
			{ ...due, message: { kind: "directory", domain: "dom-a" } },
			{ ...due, message: { kind: "leave", domain: "dom-b" } },
			{ ...due, message: { kind: "announce", domain: "dom-a", vmId: "vm-1" } },
		]);
		expect(tables).not.toContain("directory_tasks");
	});

	it("moves a VM's queued migration calls into its outbox, in order", async () => {
		const calls = [
			{ kind: "index", migrationId: "vm-1~m1", vmId: "vm-1" },
			{ kind: "agent", hostId: "host-a", command: { type: "migration.cancel" } },
		];
		const { outbox, tables } = await upgrade(
			migrationSchema,
			1,
			(sql) => {
				for (const call of calls) {
					sql.exec("INSERT INTO migration_outbox (call) VALUES (?)", JSON.stringify(call));
				}
			},
			migrationSchemaKey,
		);
		const due = { lane: "migration", attempts: 0, next_attempt_ms: 0 };
		expect(outbox).toEqual(calls.map((message) => ({ ...due, message })));
		expect(tables).not.toContain("migration_outbox");
	});

	it("keeps a device's queued messages, their channel now their lane", async () => {
		const message = { channel: "vm:vm-1", attach: { hostId: "h", bdf: "b", vfIndex: 0 } };
		const { outbox } = await upgrade(pciDeviceSchema, 3, (sql) =>
			sql.exec(
				"INSERT INTO outbox (channel, payload, attempts, next_attempt_ms) VALUES (?, ?, 2, 1234)",
				message.channel,
				JSON.stringify(message),
			),
		);
		expect(outbox).toEqual([{ lane: "vm:vm-1", attempts: 2, next_attempt_ms: 1234, message }]);
	});
});
