// Proves the OpenAPI document describes every console-access route with its
// request schema, success response, problem responses and, for admin routes,
// the admin security requirement. Does not check other teams' routes.
import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/http";

type Operation = {
	security?: Array<Record<string, unknown>>;
	requestBody?: { content: Record<string, unknown> };
	responses: Record<string, { content?: Record<string, unknown> }>;
};
let paths: Record<string, Record<string, Operation>> = {};

beforeAll(async () => {
	paths = ((await (await call("/openapi.json")).json()) as { paths: typeof paths }).paths;
}, 60_000);

const routes: Array<
	[string, string, { admin: boolean; success: string; problems: string[]; body?: string }]
> = [
	[
		"put",
		"/v1/hosts/{hostId}",
		{ admin: true, success: "201", problems: ["400", "401"], body: "application/json" },
	],
	["get", "/v1/hosts/{hostId}", { admin: true, success: "200", problems: ["401", "404"] }],
	["get", "/v1/hosts", { admin: true, success: "200", problems: ["400", "401"] }],
	[
		"put",
		"/v1/hosts/{hostId}/vms/{vmId}",
		{
			admin: true,
			success: "201",
			problems: ["400", "401", "404", "409"],
			body: "application/json",
		},
	],
	[
		"post",
		"/v1/hosts/{hostId}/vms/{vmId}/rotate-key",
		{ admin: true, success: "200", problems: ["401", "404"] },
	],
	[
		"delete",
		"/v1/hosts/{hostId}/vms/{vmId}",
		{ admin: true, success: "204", problems: ["401", "404"] },
	],
	["get", "/v1/hosts/{hostId}/vms", { admin: true, success: "200", problems: ["401", "404"] }],
	["get", "/.well-known/jwks.json", { admin: false, success: "200", problems: [] }],
	[
		"post",
		"/v1/sessions",
		{
			admin: false,
			success: "201",
			problems: ["400", "403", "404", "409", "429"],
			body: "application/jose",
		},
	],
	["get", "/v1/sessions/{sessionId}", { admin: true, success: "200", problems: ["401", "404"] }],
	["delete", "/v1/sessions/{sessionId}", { admin: true, success: "204", problems: ["401", "404"] }],
	["get", "/v1/hosts/{hostId}/sessions", { admin: true, success: "200", problems: ["401", "404"] }],
	["get", "/v1/hosts/{hostId}/audit", { admin: true, success: "200", problems: ["401", "404"] }],
	["get", "/v1/hosts/{hostId}/agent", { admin: false, success: "101", problems: ["401"] }],
	["get", "/v1/sessions/{sessionId}/user", { admin: false, success: "101", problems: ["401"] }],
	["get", "/v1/sessions/{sessionId}/vm", { admin: false, success: "101", problems: ["401"] }],
	["get", "/v1/sessions/{sessionId}/viewer", { admin: false, success: "101", problems: ["401"] }],
	[
		"get",
		"/v1/sessions/{sessionId}/recording",
		{ admin: true, success: "200", problems: ["400", "401", "404"] },
	],
	[
		"post",
		"/v1/sessions/{sessionId}/viewers",
		{ admin: true, success: "201", problems: ["400", "401", "404", "409"] },
	],
];

describe("OpenAPI document for console access", () => {
	for (const [method, path, expected] of routes) {
		it(`documents ${method.toUpperCase()} ${path}`, () => {
			const operation = paths[path]?.[method];
			expect(operation).toBeDefined();
			if (!operation) return;
			expect(operation.responses).toHaveProperty(expected.success);
			for (const status of expected.problems) {
				expect(operation.responses[status]?.content).toHaveProperty("application/problem+json");
			}
			if (expected.admin) expect(operation.security).toEqual([{ adminToken: [] }]);
			else expect(operation.security ?? []).not.toContainEqual({ adminToken: [] });
			if (expected.body) expect(operation.requestBody?.content).toHaveProperty(expected.body);
		});
	}
});
