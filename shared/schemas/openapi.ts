import { z } from "@hono/zod-openapi";
import { type ProblemCode, problemCodes } from "../problem";

/** RFC 9457 problem body as the OpenAPI document describes it. */
export const ProblemSchema = z
	.object({
		type: z.string(),
		title: z.string(),
		status: z.number().int(),
		detail: z.string(),
		code: z.enum(Object.keys(problemCodes) as [ProblemCode, ...ProblemCode[]]),
	})
	.openapi("Problem");

const retryAfterHeader = {
	"Retry-After": {
		description: "seconds to wait before trying again",
		schema: { type: "integer" as const, minimum: 1 },
	},
};

interface ProblemResponse {
	description: string;
	headers?: typeof retryAfterHeader;
	content: { "application/problem+json": { schema: typeof ProblemSchema } };
}

/**
 * OpenAPI responses for the given problem codes, grouped by status, so that
 * every route documents exactly the problems it can answer with (and
 * `500 internal`, which any can); codes sent with `Retry-After` declare it.
 */
export function problemResponses(...codes: ProblemCode[]) {
	const byStatus = new Map<number, ProblemCode[]>();
	// Any route can fail unexpectedly; a client should know the shape of that too.
	for (const code of codes.includes("internal") ? codes : [...codes, "internal" as const]) {
		const { status } = problemCodes[code];
		byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
	}
	const responses: Record<number, ProblemResponse> = {};
	for (const [status, statusCodes] of byStatus) {
		const retries = statusCodes.some((code) => "retryAfter" in problemCodes[code]);
		responses[status] = {
			description: `Problem: ${statusCodes.join(", ")}`,
			...(retries && { headers: retryAfterHeader }),
			content: { "application/problem+json": { schema: ProblemSchema } },
		};
	}
	return responses;
}

/** An `application/json` content entry for a request body or response. */
export function jsonContent<T>(schema: T) {
	return { "application/json": { schema } };
}
