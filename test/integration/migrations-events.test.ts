// Proves GET /v1/migrations/{id}/events: a text/event-stream that starts
// with the current record, sends every later change with increasing ids,
// ends when the migration ends, and replays after Last-Event-ID.
// Does not cover reconnection across a real network (e2e).
import { describe, expect, it } from "vitest";
import { MigrationStreams } from "../../durable-objects/virtual-machine/migration-stream";
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { createSseParser, type ServerSentEvent } from "../../shared/sse";
import { admin, problemOf } from "../support/http";
import { migrationSetup, sendWebhook, startMigration } from "../support/migration";
import { withTimeout } from "../support/sockets";

interface SseEvent {
	id: number;
	record: MigrationRecord;
}

/** Reads SSE events off a stream with the console's own parser, each wait bounded. */
function sseReader(body: ReadableStream<Uint8Array>) {
	const reader = body.getReader();
	const decoder = new TextDecoder();
	const parser = createSseParser();
	const ready: ServerSentEvent[] = [];
	const textWaiters: Array<() => void> = [];
	return {
		/** The raw text read so far (comments and fields the parser drops included). */
		text: "",
		async nextEvent(): Promise<ServerSentEvent | null> {
			while (ready.length === 0) {
				const { value, done } = await withTimeout(reader.read(), 5_000, "no SSE data");
				if (done) return null;
				const chunk = decoder.decode(value, { stream: true });
				this.text += chunk;
				for (const wake of textWaiters.splice(0)) wake();
				ready.push(...parser.push(chunk));
			}
			return ready.shift() ?? null;
		},
		/** Resolves once the raw text contains `expected` (read by a pending nextEvent); bounded. */
		textContaining(expected: string): Promise<void> {
			const seen = async () => {
				while (!this.text.includes(expected))
					await new Promise<void>((wake) => textWaiters.push(wake));
			};
			return withTimeout(seen(), 5_000, `no ${JSON.stringify(expected)} in the stream`);
		},
		cancel: () => reader.cancel(),
		async next(): Promise<SseEvent | null> {
			const event = await this.nextEvent();
			return event && { id: Number(event.id), record: JSON.parse(event.data) as MigrationRecord };
		},
	};
}

describe("GET /v1/migrations/{id}/events", () => {
	it("streams the current record, then every change, and ends with the migration", async () => {
		const { vmId, source, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		const response = await admin("GET", `/v1/migrations/${migrationId}/events`);
		expect(response.status).toBe(200);
		expect(response.headers.get("Content-Type")).toBe("text/event-stream");
		const events = sseReader(response.body as ReadableStream<Uint8Array>);
		const first = await events.next();
		expect(first?.record).toMatchObject({ migrationId, state: "migrating" });
		await sendWebhook(source, { type: "migration.progress", data: { migrationId, percent: 50 } });
		const progress = await events.next();
		expect(progress?.record.progress.percent).toBe(50);
		expect(progress?.id).toBeGreaterThan(first?.id ?? 0);
		await sendWebhook(source, { type: "migration.failed", data: { migrationId, reason: "x" } });
		expect((await events.next())?.record.state).toBe("failed");
		expect(await events.next()).toBeNull();
	});

	it("tells clients how soon to reconnect", async () => {
		const { vmId, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		const response = await admin("GET", `/v1/migrations/${migrationId}/events`);
		const events = sseReader(response.body as ReadableStream<Uint8Array>);
		await events.next();
		expect(events.text).toMatch(/^retry: \d+\n\n/);
		await events.cancel();
	});

	it("keeps a quiet stream alive with comments until the reader goes away", async () => {
		const streams = new MigrationStreams(20);
		const { vmId, target } = await migrationSetup();
		const record = await startMigration(vmId, target.hostId);
		const events = sseReader(streams.open(record.migrationId, [], record));
		const quiet = events.nextEvent();
		await events.textContaining(": keep-alive\n\n");
		// Comments carry no event: the reader is still waiting for the next change.
		streams.publish({ seq: 9, record: { ...record, state: "cancelled" } });
		expect((await quiet)?.id).toBe("9");
		expect(await events.nextEvent()).toBeNull();
	});

	it("replays the changes after Last-Event-ID", async () => {
		const { vmId, source, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		await sendWebhook(source, { type: "migration.progress", data: { migrationId, percent: 10 } });
		await admin("POST", `/v1/migrations/${migrationId}/cancel`);
		const response = await admin("GET", `/v1/migrations/${migrationId}/events`, undefined, {
			"Last-Event-ID": "1",
		});
		const events = sseReader(response.body as ReadableStream<Uint8Array>);
		expect((await events.next())?.record.progress.percent).toBe(10);
		expect((await events.next())?.record.state).toBe("cancelled");
		expect(await events.next()).toBeNull();
	});

	it("answers not_found for an unknown migration", async () => {
		const response = await admin("GET", "/v1/migrations/no-such-1/events");
		expect(response.status).toBe(404);
		expect((await problemOf(response)).code).toBe("not_found");
	});
});
