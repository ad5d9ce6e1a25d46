import { createRoute, z } from "@hono/zod-openapi";
import { asciicastContentType, recordingKey } from "../../shared/asciicast";
import { Problem } from "../../shared/problem";
import { jsonContent, problemResponses } from "../../shared/schemas/openapi";
import { ChannelGrantSchema, SessionIdParam } from "../../shared/schemas/sessions";
import { createRouter } from "../app";
import { adminSecurity, requireAdmin } from "../middleware/auth";
import { serviceProcessor } from "../stubs";
import { channelOrigin, hostOf } from "./sessions";

const getRecording = createRoute({
	method: "get",
	path: "/v1/sessions/{sessionId}/recording",
	operationId: "getSessionRecording",
	tags: ["sessions"],
	summary: "A session's console recording (asciicast v2)",
	description:
		"The VM's output with its timing, never the user's input. A closed session's recording comes from the recordings bucket; a live session's holds the events so far. Recording stops at 8 MiB (`recording.truncated` in the session record).",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: SessionIdParam },
	responses: {
		200: {
			description: 'asciicast v2: a JSON header line, then `[seconds, "o", text]` lines',
			content: { [asciicastContentType]: { schema: z.string() } },
		},
		...problemResponses("invalid_request", "unauthorized", "not_found"),
	},
});

const openViewer = createRoute({
	method: "post",
	path: "/v1/sessions/{sessionId}/viewers",
	operationId: "openSessionViewer",
	tags: ["sessions"],
	summary: "A read-only viewer channel on a live session",
	description:
		"Returns a WebSocket URL with a single-use token (expires in 60 s). The viewer receives every frame the VM sends from the moment it joins; what it sends is dropped. It is closed with the session's close reason.",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: SessionIdParam },
	responses: {
		201: { description: "Viewer channel", content: jsonContent(ChannelGrantSchema) },
		...problemResponses("invalid_request", "unauthorized", "not_found", "session_closed"),
	},
});

/** Console recordings and read-only viewers. */
export const recordingRoutes = createRouter()
	.openapi(getRecording, async (c) => {
		const { sessionId } = c.req.valid("param");
		const recording = await serviceProcessor(c.env, hostOf(sessionId)).readRecording(sessionId);
		if (!recording) throw new Problem("not_found", "no such session or it has no recording");
		const headers = { "Content-Type": asciicastContentType };
		if (recording.cast !== null) return c.body(recording.cast, 200, headers);
		const object = await c.env.RECORDINGS.get(recordingKey(sessionId));
		if (!object) throw new Problem("not_found", "the recording is no longer in the bucket");
		return c.body(object.body, 200, headers);
	})
	.openapi(openViewer, async (c) => {
		const { sessionId } = c.req.valid("param");
		const viewer = await serviceProcessor(c.env, hostOf(sessionId)).openViewer(
			sessionId,
			channelOrigin(c.env, c.req.url),
		);
		return c.json(viewer, 201);
	});
