import { z } from "@hono/zod-openapi";

/** Identifier grammar shared by `domain`, `hostId` and `vmId` (API.md, Conventions). */
export const identifierPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** True when `value` is a valid `domain`, `hostId` or `vmId`. */
export function isIdentifier(value: string): boolean {
	return identifierPattern.test(value);
}

/** zod schema for an identifier path or body field, documented in OpenAPI. */
export const Identifier = z
	.string()
	.regex(identifierPattern, "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");

export const HostIdParam = z.object({
	hostId: Identifier.openapi({ param: { name: "hostId", in: "path" }, example: "host-a1" }),
});

export const HostVmParams = HostIdParam.extend({
	vmId: Identifier.openapi({ param: { name: "vmId", in: "path" }, example: "vm-web-1" }),
});

export const VmIdParam = z.object({
	vmId: Identifier.openapi({ param: { name: "vmId", in: "path" }, example: "vm-web-1" }),
});
