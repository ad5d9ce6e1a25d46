import { createRoute } from "@hono/zod-openapi";
import { HostIdParam, HostVmParams } from "../../shared/ids";
import { jsonContent, problemResponses } from "../../shared/schemas/openapi";
import {
	KeyRotatedSchema,
	VmEnrolledSchema,
	VmInputSchema,
	VmListSchema,
	VmUpdatedSchema,
} from "../../shared/schemas/vms";
import { createRouter } from "../app";
import { adminSecurity, requireAdmin } from "../middleware/auth";
import { serviceProcessor } from "../stubs";

const putVm = createRoute({
	method: "put",
	path: "/v1/hosts/{hostId}/vms/{vmId}",
	operationId: "putVm",
	tags: ["service-processor table"],
	summary: "Enrol a VM in the host's SP table, or update it",
	description:
		"Enrolment mints the VM's key (base64url of 32 random bytes), shown once and stored only as a hash. A VM id lives in exactly one SP table.",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostVmParams, body: { required: true, content: jsonContent(VmInputSchema) } },
	responses: {
		201: { description: "Enrolled; the key is shown once", content: jsonContent(VmEnrolledSchema) },
		200: { description: "Updated (no key)", content: jsonContent(VmUpdatedSchema) },
		...problemResponses(
			"invalid_request",
			"unauthorized",
			"host_not_found",
			"vm_exists",
			"payload_too_large",
		),
	},
});

const rotateKey = createRoute({
	method: "post",
	path: "/v1/hosts/{hostId}/vms/{vmId}/rotate-key",
	operationId: "rotateVmKey",
	tags: ["service-processor table"],
	summary: "Rotate a VM's key",
	description: "The old key stops working at once; sessions opened with it are closed.",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostVmParams },
	responses: {
		200: { description: "The new key, shown once", content: jsonContent(KeyRotatedSchema) },
		...problemResponses("invalid_request", "unauthorized", "host_not_found", "vm_not_found"),
	},
});

const deleteVm = createRoute({
	method: "delete",
	path: "/v1/hosts/{hostId}/vms/{vmId}",
	operationId: "deleteVm",
	tags: ["service-processor table"],
	summary: "Remove a VM from the SP table",
	description: "Its placement is released and its sessions are closed.",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostVmParams },
	responses: {
		204: { description: "Removed" },
		...problemResponses("invalid_request", "unauthorized", "host_not_found", "vm_not_found"),
	},
});

const clearLockout = createRoute({
	method: "delete",
	path: "/v1/hosts/{hostId}/vms/{vmId}/lockout",
	operationId: "clearVmLockout",
	tags: ["service-processor table"],
	summary: "End a VM's key lockouts",
	description:
		"Forgets the VM's recent key mismatches from every client address, so no address is locked out of it any more. A key rotation does the same.",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostVmParams },
	responses: {
		204: { description: "No address is locked out of the VM" },
		...problemResponses("invalid_request", "unauthorized", "host_not_found", "vm_not_found"),
	},
});

const listVms = createRoute({
	method: "get",
	path: "/v1/hosts/{hostId}/vms",
	operationId: "listVms",
	tags: ["service-processor table"],
	summary: "The host's SP table (never keys or hashes)",
	security: adminSecurity,
	middleware: [requireAdmin()] as const,
	request: { params: HostIdParam },
	responses: {
		200: { description: "The SP table", content: jsonContent(VmListSchema) },
		...problemResponses("invalid_request", "unauthorized", "host_not_found"),
	},
});

/** The service-processor table: enrol, update, rotate, clear lockouts, remove, list. */
export const vmRoutes = createRouter()
	.openapi(putVm, async (c) => {
		const { hostId, vmId } = c.req.valid("param");
		const result = await serviceProcessor(c.env, hostId).enrollVm(vmId, c.req.valid("json"));
		if (result.created) {
			return c.json({ vmId, hostId, keyVersion: 1 as const, key: result.key }, 201);
		}
		return c.json(VmUpdatedSchema.parse({ ...result.vm, hostId }), 200);
	})
	.openapi(rotateKey, async (c) => {
		const { hostId, vmId } = c.req.valid("param");
		return c.json(await serviceProcessor(c.env, hostId).rotateVmKey(vmId), 200);
	})
	.openapi(deleteVm, async (c) => {
		const { hostId, vmId } = c.req.valid("param");
		await serviceProcessor(c.env, hostId).removeVm(vmId);
		return c.body(null, 204);
	})
	.openapi(clearLockout, async (c) => {
		const { hostId, vmId } = c.req.valid("param");
		await serviceProcessor(c.env, hostId).clearVmLockouts(vmId);
		return c.body(null, 204);
	})
	.openapi(listVms, async (c) => {
		const { hostId } = c.req.valid("param");
		const vms = await serviceProcessor(c.env, hostId).listVms();
		return c.json(VmListSchema.parse({ vms }), 200);
	});
