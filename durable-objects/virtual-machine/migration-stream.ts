/**
 * Server-Sent Events of a migration's changes. Every stored change has a
 * sequence number, sent as the SSE `id`, so a client that reconnects with
 * `Last-Event-ID` (e.g. after the object was evicted) misses nothing.
 */
import type { MigrationRecord } from "../../shared/schemas/migrations";
import { isTerminal, type MigrationChange } from "./migration-store";

const encoder = new TextEncoder();

/** One change as an SSE message. */
export function sseMessage(change: MigrationChange): Uint8Array {
	return encoder.encode(
		`id: ${change.seq}\nevent: migration\ndata: ${JSON.stringify(change.record)}\n\n`,
	);
}

/** Open SSE streams of this object's migrations, fed after every committed change. */
export class MigrationStreams {
	#streams = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();

	/** A stream that first replays `backlog`, then follows every change until the migration ends. */
	open(migrationId: string, backlog: MigrationChange[], current: MigrationRecord) {
		let subscriber: ReadableStreamDefaultController<Uint8Array> | undefined;
		return new ReadableStream<Uint8Array>({
			start: (controller) => {
				for (const change of backlog) controller.enqueue(sseMessage(change));
				if (isTerminal(current)) {
					controller.close();
					return;
				}
				subscriber = controller;
				const streams = this.#streams.get(migrationId) ?? new Set();
				streams.add(controller);
				this.#streams.set(migrationId, streams);
			},
			cancel: () => {
				if (subscriber) this.#streams.get(migrationId)?.delete(subscriber);
			},
		});
	}

	/** Sends a committed change to every open stream of its migration; ends them when it ends. */
	publish(change: MigrationChange): void {
		const streams = this.#streams.get(change.record.migrationId);
		if (!streams) return;
		const message = sseMessage(change);
		const ended = isTerminal(change.record);
		for (const controller of streams) {
			try {
				controller.enqueue(message);
				if (ended) controller.close();
			} catch {
				// The reader went away; cancel() may not have run yet.
				streams.delete(controller);
			}
		}
		if (ended) this.#streams.delete(change.record.migrationId);
	}
}
