// Proves GET /v1/migrations/{id}/events: a text/event-stream that starts
// with the current record, sends every later change with increasing ids,
// ends when the migration ends, and replays after Last-Event-ID.
// Does not cover reconnection across a real network (e2e).
import { describe, expect, it } from "vitest";
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { admin, problemOf } from "../support/http";
import { migrationSetup, sendWebhook, startMigration } from "../support/migration";
import { withTimeout } from "../support/sockets";

interface SseEvent {
	id: number;
	record: MigrationRecord;
}

/** Reads SSE messages off a response body, each wait bounded. */
function sseReader(response: Response) {
	const reader = (response.body as ReadableStream<Uint8Array>).getReader();
	const decoder = new TextDecoder();
	let buffer = "";
	return {
		async next(): Promise<SseEvent | null> {
			for (;;) {
				const end = buffer.indexOf("\n\n");
				if (end >= 0) {
					const message = buffer.slice(0, end);
					buffer = buffer.slice(end + 2);
					const id = Number(/^id: (\d+)$/m.exec(message)?.[1]);
					const data = /^data: (.*)$/m.exec(message)?.[1] ?? "null";
					return { id, record: JSON.parse(data) as MigrationRecord };
				}
				const { value, done } = await withTimeout(reader.read(), 5_000, "no SSE data");
				if (done) return null;
				buffer += decoder.decode(value, { stream: true });
			}
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
		const events = sseReader(response);
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

	it("replays the changes after Last-Event-ID", async () => {
		const { vmId, source, target } = await migrationSetup();
		const { migrationId } = await startMigration(vmId, target.hostId);
		await sendWebhook(source, { type: "migration.progress", data: { migrationId, percent: 10 } });
		await admin("POST", `/v1/migrations/${migrationId}/cancel`);
		const response = await admin("GET", `/v1/migrations/${migrationId}/events`, undefined, {
			"Last-Event-ID": "1",
		});
		const events = sseReader(response);
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
