/**
 * API shapes the console reads, inferred from the server's own zod schemas
 * (type-only imports: nothing of zod reaches the browser bundle).
 */
import type { z } from "@hono/zod-openapi";
import type { HostSchema } from "../../shared/schemas/hosts";
import type { SessionOpenedSchema, SessionSchema } from "../../shared/schemas/sessions";
import type { VmSchema } from "../../shared/schemas/vms";

export type { MigrationRecord, RuleOutcome, SetState } from "../../shared/schemas/migrations";
export type { DeviceEventRecord, DeviceRecord, TableEntryRecord } from "../../shared/schemas/pci";

/** `GET /v1/hosts/{hostId}`. */
export type HostRecord = z.infer<typeof HostSchema>;
/** One SP-table row (never a key). */
export type VmRecord = z.infer<typeof VmSchema>;
/** `GET /v1/sessions/{sessionId}`. */
export type SessionRecord = z.infer<typeof SessionSchema>;
/** `201` of `POST /v1/sessions`. */
export type SessionOpened = z.infer<typeof SessionOpenedSchema>;
