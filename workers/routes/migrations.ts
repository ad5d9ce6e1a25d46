import { createRoute, z } from "@hono/zod-openapi";
import { VmIdParam } from "../../shared/ids";
import { Problem } from "../../shared/problem";
import { MigrationRecord, MigrationRequest } from "../../shared/schemas/migrations";
import { problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";
import { adminSecurity, requireAdmin } from "../middleware/auth";
import { migrationOwner } from "../migration-owner";
import { virtualMachine } from "../stubs";

/** Routes for migrations; see ../shared/API.md ("Migrations"). */
export const migrationRoutes = createRouter();

const MigrationIdParam = z.object({
	migrationId: z
		.string()
		.min(1)
		.max(100)
		.openapi({ param: { name: "migrationId", in: "path" }, example: "3f1c…" }),
});

const recordContent = { "application/json": { schema: MigrationRecord } };
const admin = { tags: ["migrations"], security: adminSecurity, middleware: [requireAdmin()] };

/** The VM object that owns a migration id; `not_found` for an unknown id. */
async function ownerOf(env: Env, migrationId: string) {
	const vmId = await migrationOwner(env, migrationId);
	if (!vmId) throw new Problem("not_found", `no migration ${migrationId}`);
	return virtualMachine(env, vmId);
}

migrationRoutes.openapi(
	createRoute({
		...admin,
		method: "post",
		path: "/v1/migrations",
		operationId: "startMigration",
		summary: "Request (or dry-run) a live migration",
		description:
			"Scores every rule of the policy, selects only the validation sets whose rule crossed its threshold, evaluates their builtin checks at once and sends agent subtasks to the source host's agent. A dry run answers 200 with the same record and stores or sends nothing.",
		request: {
			body: { required: true, content: { "application/json": { schema: MigrationRequest } } },
		},
		responses: {
			201: { description: "Migration recorded", content: recordContent },
			200: { description: "Dry run: the assessment and plan", content: recordContent },
			...problemResponses(
				"invalid_request",
				"unauthorized",
				"vm_not_found",
				"host_not_found",
				"same_host",
				"migration_in_progress",
				"payload_too_large",
			),
		},
	}),
	async (c) => {
		const request = c.req.valid("json");
		const record = await virtualMachine(c.env, request.vmId).requestMigration(request);
		return request.dryRun ? c.json(record, 200) : c.json(record, 201);
	},
);

migrationRoutes.openapi(
	createRoute({
		...admin,
		method: "get",
		path: "/v1/migrations/{migrationId}",
		operationId: "getMigration",
		summary: "A migration with its assessment and validation state",
		request: { params: MigrationIdParam },
		responses: {
			200: { description: "The migration", content: recordContent },
			...problemResponses("invalid_request", "unauthorized", "not_found"),
		},
	}),
	async (c) => {
		const { migrationId } = c.req.valid("param");
		const record = await (await ownerOf(c.env, migrationId)).getMigration(migrationId);
		if (!record) throw new Problem("not_found", `no migration ${migrationId}`);
		return c.json(record, 200);
	},
);

migrationRoutes.openapi(
	createRoute({
		...admin,
		method: "post",
		path: "/v1/migrations/{migrationId}/cancel",
		operationId: "cancelMigration",
		summary: "Cancel a migration that is validating or migrating",
		request: { params: MigrationIdParam },
		responses: {
			200: { description: "The cancelled migration", content: recordContent },
			...problemResponses("invalid_request", "unauthorized", "not_found", "not_cancellable"),
		},
	}),
	async (c) => {
		const { migrationId } = c.req.valid("param");
		return c.json(await (await ownerOf(c.env, migrationId)).cancelMigration(migrationId), 200);
	},
);

migrationRoutes.openapi(
	createRoute({
		...admin,
		method: "get",
		path: "/v1/migrations/{migrationId}/events",
		operationId: "streamMigrationEvents",
		summary: "Server-Sent Events of every change of a migration",
		description:
			"Each event is `event: migration` with the whole record as `data` and a sequence number as `id`; send `Last-Event-ID` to resume after it. The stream ends when the migration does.",
		request: { params: MigrationIdParam },
		responses: {
			200: {
				description: "An SSE stream",
				content: { "text/event-stream": { schema: z.string() } },
			},
			...problemResponses("invalid_request", "unauthorized", "not_found"),
		},
	}),
	async (c) => {
		const { migrationId } = c.req.valid("param");
		const lastEventId = c.req.header("Last-Event-ID");
		const afterSeq = lastEventId && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
		const stream = await (await ownerOf(c.env, migrationId)).migrationEvents(migrationId, afterSeq);
		return c.body(stream, 200, {
			"Content-Type": "text/event-stream",
			"Cache-Control": "no-cache",
		});
	},
);

migrationRoutes.openapi(
	createRoute({
		...admin,
		method: "get",
		path: "/v1/vms/{vmId}/migrations",
		operationId: "listVmMigrations",
		summary: "A VM's migrations, newest first",
		request: { params: VmIdParam },
		responses: {
			200: {
				description: "The VM's migrations",
				content: {
					"application/json": { schema: z.object({ migrations: z.array(MigrationRecord) }) },
				},
			},
			...problemResponses("invalid_request", "unauthorized", "vm_not_found"),
		},
	}),
	async (c) => {
		const { vmId } = c.req.valid("param");
		const vm = virtualMachine(c.env, vmId);
		const [migrations, placement] = await Promise.all([vm.listMigrations(), vm.getPlacement()]);
		if (migrations.length === 0 && !placement) throw new Problem("vm_not_found", `no VM ${vmId}`);
		return c.json({ migrations }, 200);
	},
);
