/**
 * The device's event timeline: every VF creation, reservation, hold, lift and
 * transfer outcome, with durations, so a per-VF timeline can be drawn.
 */
import type { DeviceEventRecord } from "../../shared/schemas/pci";
import type { EventInput } from "./context";
import { eventRecord } from "./rows";

/** Appends an event (inside the caller's transaction). */
export function appendEvent(sql: SqlStorage, event: EventInput): void {
	sql.exec(
		`INSERT INTO events (type, at, vf_index, virtual_address, transfer_id, duration_ms, mapping_version)
		 VALUES (?, ?, ?, ?, ?, ?, ?)`,
		event.type,
		new Date().toISOString(),
		event.vfIndex ?? null,
		event.virtualAddress ?? null,
		event.transferId ?? null,
		event.durationMs ?? null,
		event.mappingVersion ?? null,
	);
}

/** The newest `limit` events, newest first. */
export function listEvents(sql: SqlStorage, limit: number): DeviceEventRecord[] {
	return sql
		.exec<Record<string, SqlStorageValue>>("SELECT * FROM events ORDER BY id DESC LIMIT ?", limit)
		.toArray()
		.map(eventRecord);
}
