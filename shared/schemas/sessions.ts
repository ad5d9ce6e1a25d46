import { z } from "@hono/zod-openapi";
import { Identifier } from "../ids";
import { ownedIdPattern } from "../owned-id";

/** A session id (`${hostId}~${uuid}`). */
export const SessionId = z
	.string()
	.regex(ownedIdPattern, "must be a session id")
	.openapi({ example: "host-a1~0b3f8a52-6f5e-4d0c-9a43-2f4f1f7e9c11" });

/** Session id path parameter. */
export const SessionIdParam = z.object({
	sessionId: SessionId.openapi({ param: { name: "sessionId", in: "path" } }),
});

/** Session states: the VM side attaches after the user side is secured. */
export const SessionState = z.enum(["vm_pending", "established", "closed"]);

/** A single-use channel URL handed to a client (user channel, viewer). */
export const ChannelGrantSchema = z
	.object({
		url: z.string().openapi({ description: "ws:// or wss:// URL carrying the token" }),
		token: z.string().openapi({ description: "Single-use; expires at expiresAt" }),
		expiresAt: z.string().openapi({ format: "date-time" }),
	})
	.openapi("ChannelGrant");

/** `201` body of `POST /v1/sessions`. */
export const SessionOpenedSchema = z
	.object({
		sessionId: SessionId,
		hostId: Identifier,
		vmId: Identifier,
		state: SessionState,
		userChannel: ChannelGrantSchema,
	})
	.openapi("SessionOpened");

/** What a session record tells about its recording. */
export const RecordingSummarySchema = z
	.object({
		bytes: z
			.number()
			.int()
			.nonnegative()
			.openapi({ description: "Size of the .cast so far, header included" }),
		events: z.number().int().nonnegative(),
		truncated: z.boolean().openapi({ description: "Recording stopped at the 8 MiB cap" }),
		stored: z.boolean().openapi({ description: "Written to the recordings bucket" }),
	})
	.openapi("RecordingSummary");

/** A session record as admins see it. */
export const SessionSchema = z
	.object({
		sessionId: SessionId,
		hostId: Identifier.openapi({ description: "the service processor that secured the session" }),
		vmHostId: Identifier.openapi({
			description:
				"the host whose agent carries the VM side now; differs from hostId after the VM live-migrated",
		}),
		vmId: Identifier,
		state: SessionState,
		keyVersion: z.number().int().positive(),
		createdAt: z.string().openapi({ format: "date-time" }),
		userSecuredAt: z.string().openapi({ format: "date-time" }),
		vmSecuredAt: z.string().nullable().openapi({ format: "date-time" }),
		closedAt: z.string().nullable().openapi({ format: "date-time" }),
		closeReason: z.string().nullable().openapi({
			description:
				"terminated, key_rotated, vm_removed, vm_migrated (the VM moved and its new host's agent did not re-attach within 30 s), idle_timeout, max_duration, user_disconnected, vm_disconnected, user_never_attached (the user channel token expired unused), connection_lost (a side vanished without closing), buffer_overflow (more than 1,024 frames or 1 MiB waited for a side that was not there), frame_too_large (a frame over 1 MiB; WebSocket close 1009)",
		}),
		bytesFromUser: z.number().int().nonnegative(),
		bytesFromVm: z.number().int().nonnegative(),
		viewers: z
			.number()
			.int()
			.nonnegative()
			.openapi({ description: "Read-only viewers attached now" }),
		recording: RecordingSummarySchema.nullable().openapi({
			description: "The session's asciicast recording; null until the VM side attaches",
		}),
	})
	.openapi("Session");

/** `GET /v1/hosts/{hostId}/sessions` body. */
export const SessionListSchema = z
	.object({ sessions: z.array(SessionSchema) })
	.openapi("SessionList");

/** One audit trail entry; never carries a key or token. */
export const AuditEventSchema = z
	.object({
		id: z.number().int().positive(),
		at: z.string().openapi({ format: "date-time" }),
		type: z.string().openapi({ example: "session.key_matched" }),
		sessionId: SessionId.nullable(),
		vmId: Identifier.nullable(),
		detail: z.record(z.string(), z.unknown()).nullable(),
	})
	.openapi("AuditEvent");

/** `GET /v1/hosts/{hostId}/audit` body. */
export const AuditListSchema = z.object({ events: z.array(AuditEventSchema) }).openapi("AuditList");

/** `GET /v1/hosts/{hostId}/audit` query. */
export const AuditQuerySchema = z.object({
	limit: z.coerce
		.number()
		.int()
		.min(1)
		.max(1000)
		.default(100)
		.openapi({ param: { name: "limit", in: "query" } }),
});
