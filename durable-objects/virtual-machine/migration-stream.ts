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

/** The reconnection delay a client is told to use (SSE `retry:`). */
const reconnectMs = 2_000;
/** A comment sent this often keeps proxies from closing a quiet stream (they commonly give up after ~100 s). */
export const keepAliveMs = 15_000;

const preamble = encoder.encode(`retry: ${reconnectMs}\n\n`);
const keepAlive = encoder.encode(": keep-alive\n\n");

/** Open SSE streams of this object's migrations, fed after every committed change. */
export class MigrationStreams {
	#streams = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();
	#keepAliveTimer: ReturnType<typeof setInterval> | undefined;

	constructor(private readonly keepAliveEveryMs = keepAliveMs) {}

	/** A stream that first replays `backlog`, then follows every change until the migration ends. */
	open(migrationId: string, backlog: MigrationChange[], current: MigrationRecord) {
		let subscriber: ReadableStreamDefaultController<Uint8Array> | undefined;
		return new ReadableStream<Uint8Array>({
			start: (controller) => {
				controller.enqueue(preamble);
				for (const change of backlog) controller.enqueue(sseMessage(change));
				if (isTerminal(current)) {
					controller.close();
					return;
				}
				subscriber = controller;
				const streams = this.#streams.get(migrationId) ?? new Set();
				streams.add(controller);
				this.#streams.set(migrationId, streams);
				this.#keepAliveTimer ??= setInterval(
					() => this.#sendToAll(keepAlive),
					this.keepAliveEveryMs,
				);
			},
			cancel: () => {
				if (subscriber) this.#forget(migrationId, subscriber);
			},
		});
	}

	/** Sends a committed change to every open stream of its migration; ends them when it ends. */
	publish(change: MigrationChange): void {
		const { migrationId } = change.record;
		const streams = this.#streams.get(migrationId);
		if (!streams) return;
		const message = sseMessage(change);
		const ended = isTerminal(change.record);
		for (const controller of streams) {
			if (this.#send(migrationId, controller, message) && ended) {
				controller.close();
				this.#forget(migrationId, controller);
			}
		}
	}

	#sendToAll(message: Uint8Array): void {
		for (const [migrationId, streams] of this.#streams) {
			for (const controller of streams) this.#send(migrationId, controller, message);
		}
	}

	/** Enqueues `message`; false (and the stream forgotten) when its reader went away. */
	#send(
		migrationId: string,
		controller: ReadableStreamDefaultController<Uint8Array>,
		message: Uint8Array,
	): boolean {
		try {
			controller.enqueue(message);
			return true;
		} catch {
			// The reader went away; cancel() may not have run yet.
			this.#forget(migrationId, controller);
			return false;
		}
	}

	#forget(migrationId: string, controller: ReadableStreamDefaultController<Uint8Array>): void {
		const streams = this.#streams.get(migrationId);
		streams?.delete(controller);
		if (streams?.size === 0) this.#streams.delete(migrationId);
		if (this.#streams.size === 0) {
			clearInterval(this.#keepAliveTimer);
			this.#keepAliveTimer = undefined;
		}
	}
}
