// Proves the served OpenAPI document describes every route of the public
// contract (API.md) with the contract's paths and methods, and marks admin
// routes as needing the admin token. It does not check response shapes;
// each resource's tests do.
import { describe, expect, it } from "vitest";
import { defaultPolicy } from "../../shared/default-policy";
import { call } from "../support/http";

/** [method, path] of every route API.md names. */
const contractRoutes = [
	["get", "/healthz"],
	["put", "/v1/hosts/{hostId}"],
	["get", "/v1/hosts/{hostId}"],
	["get", "/v1/hosts"],
	["put", "/v1/hosts/{hostId}/vms/{vmId}"],
	["post", "/v1/hosts/{hostId}/vms/{vmId}/rotate-key"],
	["delete", "/v1/hosts/{hostId}/vms/{vmId}"],
	["get", "/v1/hosts/{hostId}/vms"],
	["get", "/.well-known/jwks.json"],
	["post", "/v1/sessions"],
	["get", "/v1/sessions/{sessionId}"],
	["delete", "/v1/sessions/{sessionId}"],
	["get", "/v1/hosts/{hostId}/sessions"],
	["get", "/v1/hosts/{hostId}/agent"],
	["post", "/v1/hosts/{hostId}/webhooks"],
	["get", "/v1/migration-policy"],
	["put", "/v1/migration-policy"],
	["post", "/v1/migrations"],
	["get", "/v1/migrations/{migrationId}"],
	["get", "/v1/vms/{vmId}/migrations"],
	["post", "/v1/migrations/{migrationId}/cancel"],
	["get", "/v1/migrations/{migrationId}/events"],
	["put", "/v1/hosts/{hostId}/pci-devices/{bdf}"],
	["post", "/v1/hosts/{hostId}/pci-devices/{bdf}/vfs"],
	["post", "/v1/hosts/{hostId}/pci-devices/{bdf}/translate"],
	["post", "/v1/hosts/{hostId}/pci-devices/{bdf}/vfs/{vfIndex}/transfer"],
	["get", "/v1/hosts/{hostId}/pci-devices/{bdf}/translation-table"],
] as const;

/** Routes that need no admin token (public, agent- or signature-authenticated). */
const notAdminOnly = new Set([
	"get /healthz",
	"get /.well-known/jwks.json",
	"post /v1/sessions",
	"get /v1/hosts/{hostId}/agent",
	"post /v1/hosts/{hostId}/webhooks",
	"post /v1/hosts/{hostId}/pci-devices/{bdf}/translate",
]);

type Operation = {
	security?: Array<Record<string, unknown>>;
	requestBody?: unknown;
	parameters?: Array<{ in: string; name: string }>;
	responses: Record<string, { headers?: Record<string, unknown> }>;
};

async function operations(): Promise<Array<[string, Operation]>> {
	const document = (await (await call("/openapi.json")).json()) as {
		paths: Record<string, Record<string, Operation>>;
	};
	return Object.entries(document.paths).flatMap(([path, methods]) =>
		Object.entries(methods).map(
			([method, operation]) => [`${method} ${path}`, operation] as [string, Operation],
		),
	);
}

describe("OpenAPI document", () => {
	it("describes every route of the contract", async () => {
		const document = (await (await call("/openapi.json")).json()) as {
			paths: Record<string, Record<string, Operation>>;
		};
		const missing = contractRoutes.filter(([method, path]) => !document.paths[path]?.[method]);
		expect(missing).toEqual([]);
	});

	it("marks every admin route with the admin token scheme", async () => {
		const document = (await (await call("/openapi.json")).json()) as {
			paths: Record<string, Record<string, Operation>>;
		};
		const unmarked = contractRoutes.filter(
			([method, path]) =>
				!notAdminOnly.has(`${method} ${path}`) && !document.paths[path]?.[method]?.security?.length,
		);
		expect(unmarked).toEqual([]);
	});

	// The problems every route can answer by the Conventions of API.md, documented where they apply.
	it("documents 413 on every route with a body", async () => {
		const missing = (await operations())
			.filter(([, operation]) => operation.requestBody && !operation.responses["413"])
			.map(([name]) => name);
		expect(missing).toEqual([]);
	});

	it("documents 401 on every route that needs a token", async () => {
		const missing = (await operations())
			.filter(([, operation]) => operation.security?.length && !operation.responses["401"])
			.map(([name]) => name);
		expect(missing).toEqual([]);
	});

	it("documents 400 on every route with path parameters", async () => {
		const missing = (await operations())
			.filter(
				([, operation]) =>
					operation.parameters?.some((parameter) => parameter.in === "path") &&
					!operation.responses["400"],
			)
			.map(([name]) => name);
		expect(missing).toEqual([]);
	});

	it("declares Retry-After on every 429 and 503", async () => {
		const missing = (await operations()).flatMap(([name, operation]) =>
			["429", "503"]
				.filter(
					(status) =>
						operation.responses[status] && !operation.responses[status].headers?.["Retry-After"],
				)
				.map((status) => `${name} ${status}`),
		);
		expect(missing).toEqual([]);
	});

	it("lets the translate route be called with the admin token or the host's agent token", async () => {
		const translate = (await operations()).find(
			([name]) => name === "post /v1/hosts/{hostId}/pci-devices/{bdf}/translate",
		)?.[1];
		expect(translate?.security).toEqual([{ adminToken: [] }, { agentToken: [] }]);
	});

	it("documents the webhook route's signed body and its signature headers", async () => {
		const webhooks = (await operations()).find(
			([name]) => name === "post /v1/hosts/{hostId}/webhooks",
		)?.[1];
		expect(webhooks?.requestBody).toMatchObject({
			content: { "application/json": { schema: { $ref: "#/components/schemas/WebhookEvent" } } },
		});
		const headers = (webhooks?.parameters ?? []).filter((parameter) => parameter.in === "header");
		expect(headers.map((header) => header.name).sort()).toEqual([
			"webhook-id",
			"webhook-signature",
			"webhook-timestamp",
		]);
	});
});

describe("OpenAPI document: policy subtasks", () => {
	type ObjectSchema = {
		properties: Record<string, unknown>;
		required: string[];
		additionalProperties?: boolean;
	};
	async function schemas() {
		const document = (await (await call("/openapi.json")).json()) as {
			components: { schemas: Record<string, unknown> };
		};
		return document.components.schemas;
	}

	it("describes a subtask as one of two closed kinds, told apart by `kind`", async () => {
		const all = await schemas();
		expect(all.PolicySubtask).toEqual({
			oneOf: [
				{ $ref: "#/components/schemas/BuiltinSubtask" },
				{ $ref: "#/components/schemas/AgentSubtask" },
			],
			discriminator: {
				propertyName: "kind",
				mapping: {
					builtin: "#/components/schemas/BuiltinSubtask",
					agent: "#/components/schemas/AgentSubtask",
				},
			},
		});
		const builtin = all.BuiltinSubtask as ObjectSchema;
		const agent = all.AgentSubtask as ObjectSchema;
		expect(builtin.required).toContain("check");
		expect(Object.keys(builtin.properties)).not.toContain("timeoutSeconds");
		expect(Object.keys(agent.properties)).not.toContain("check");
		expect([builtin.additionalProperties, agent.additionalProperties]).toEqual([false, false]);
	});

	it("is met by every subtask of the default policy (schema-valid and valid agree)", async () => {
		const all = await schemas();
		const subtasks = defaultPolicy.validationSets.flatMap((set) => set.subtasks);
		for (const subtask of subtasks) {
			const kind = all[subtask.kind === "builtin" ? "BuiltinSubtask" : "AgentSubtask"];
			const { properties, required } = kind as ObjectSchema;
			expect(Object.keys(subtask).filter((field) => !(field in properties))).toEqual([]);
			expect(required.filter((field) => !(field in subtask))).toEqual([]);
		}
	});
});
