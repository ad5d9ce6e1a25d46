import { z } from "@hono/zod-openapi";
import { Identifier } from "../ids";

/** `PUT /v1/hosts/{hostId}/vms/{vmId}` body. */
export const VmInputSchema = z
	.object({
		memoryMiB: z.number().int().positive().openapi({ example: 4096 }),
		vcpus: z.number().int().positive().max(1024).openapi({ example: 2 }),
	})
	.openapi("VmInput");

/** What an admin sends to enrol or update a VM. */
export type VmInput = z.infer<typeof VmInputSchema>;

/** An SP-table row as admins see it: never the key or its hash. */
export const VmSchema = z
	.object({
		vmId: Identifier,
		keyVersion: z.number().int().positive(),
		memoryMiB: z.number().int(),
		vcpus: z.number().int(),
		enrolledAt: z.string().openapi({ format: "date-time" }),
	})
	.openapi("Vm");

/** `200` body of an update. */
export const VmUpdatedSchema = VmSchema.extend({ hostId: Identifier }).openapi("VmUpdated");

/** `201` body of an enrolment: the key is shown only here, once. */
export const VmEnrolledSchema = z
	.object({
		vmId: Identifier,
		hostId: Identifier,
		keyVersion: z.literal(1),
		key: z.string().openapi({ description: "base64url of 32 random bytes; shown once" }),
	})
	.openapi("VmEnrolled");

/** `rotate-key` body: the new key, shown once. */
export const KeyRotatedSchema = z
	.object({ keyVersion: z.number().int().positive(), key: z.string() })
	.openapi("KeyRotated");

/** `GET /v1/hosts/{hostId}/vms` body. */
export const VmListSchema = z.object({ vms: z.array(VmSchema) }).openapi("VmList");
