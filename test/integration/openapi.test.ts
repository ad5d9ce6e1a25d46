// Proves the served OpenAPI document describes every route of the public
// contract (API.md) with the contract's paths and methods, and marks admin
// routes as needing the admin token. It does not check response shapes;
// each resource's tests do.
import { describe, expect, it } from "vitest";
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

type Operation = { security?: unknown[] };

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
});
