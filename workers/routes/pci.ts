import { createRoute, type z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HostIdParam, isIdentifier } from "../../shared/ids";
import {
	canonicalBdf,
	formatBdf,
	geometryIssue,
	parseBdf,
	parseHexAddress,
} from "../../shared/pci";
import { Problem } from "../../shared/problem";
import { problemResponses } from "../../shared/schemas/openapi";
import {
	CreatedVf,
	CreateVfInput,
	Device,
	DeviceEvents,
	DeviceInput,
	DeviceList,
	DeviceParams,
	type DeviceRecord,
	TransferInput,
	TransferResult,
	TranslateInput,
	Translation,
	TranslationTable,
	VfParams,
} from "../../shared/schemas/pci";
import { type AppEnv, createRouter } from "../app";
import { adminSecurity, bearerToken, isAdmin, requireAdmin } from "../middleware/auth";
import { hostDevices, pciDevice, serviceProcessor } from "../stubs";

/** Routes for PCI devices, VFs, translation and transfer; see ../shared/API.md. */
export const pciRoutes = createRouter();

const json = <T extends z.ZodType>(schema: T, description: string) => ({
	description,
	content: { "application/json": { schema } },
});

const body = <T extends z.ZodType>(schema: T) => ({
	required: true,
	content: { "application/json": { schema } },
});

const devicePath = "/v1/hosts/{hostId}/pci-devices/{bdf}";

function deviceOf(c: Context<AppEnv>, hostId: string, bdf: string) {
	const canonical = canonicalBdf(bdf);
	if (!canonical)
		throw new Problem("invalid_request", "path.bdf: must be a PCI address DDDD:BB:DD.F");
	return pciDevice(c.env, hostId, canonical);
}

/** The host's registered devices, in BDF order; `host_not_found` for an unknown host. */
async function devicesOf(c: Context<AppEnv>, hostId: string): Promise<DeviceRecord[]> {
	// The host first: reading an unknown host's directory would create storage for it.
	if (!(await serviceProcessor(c.env, hostId).getHost())) {
		throw new Problem("host_not_found", `no host ${hostId}`);
	}
	const bdfs = await hostDevices(c.env, hostId).listDeviceBdfs();
	const devices = await Promise.all(bdfs.map((bdf) => deviceOf(c, hostId, bdf).getDevice()));
	return devices.filter((device) => device !== null);
}

function pciId(value: string | number): number {
	return typeof value === "number" ? value : Number.parseInt(value.replace(/^0x/i, ""), 16);
}

function hexSize(value: string | number): bigint {
	return typeof value === "number" ? BigInt(value) : (parseHexAddress(value) ?? 0n);
}

pciRoutes.openapi(
	createRoute({
		method: "put",
		path: devicePath,
		operationId: "putPciDevice",
		tags: ["pci"],
		summary: "Register or update an SR-IOV physical function",
		security: adminSecurity,
		middleware: [requireAdmin()] as const,
		request: { params: DeviceParams, body: body(DeviceInput) },
		responses: {
			201: json(Device, "registered"),
			200: json(Device, "updated"),
			...problemResponses("invalid_request", "unauthorized", "host_not_found", "payload_too_large"),
		},
	}),
	async (c) => {
		const { hostId, bdf } = c.req.valid("param");
		const input = c.req.valid("json");
		const pf = parseBdf(bdf);
		if (!pf) throw new Problem("invalid_request", "path.bdf: must be a PCI address DDDD:BB:DD.F");
		const geometry = {
			...input.sriov,
			vfBarBase: parseHexAddress(input.sriov.vfBarBase) ?? 0n,
			vfBarSize: hexSize(input.sriov.vfBarSize),
		};
		const issue = geometryIssue(pf, geometry);
		if (issue) throw new Problem("invalid_request", `body.sriov.${issue.field}: ${issue.message}`);
		if (!(await serviceProcessor(c.env, hostId).getHost())) {
			throw new Problem("host_not_found", `no host ${hostId}`);
		}
		// The host's directory checks it against the host's other functions, one registration at a time.
		const { device, created } = await hostDevices(c.env, hostId).registerFunction({
			hostId,
			bdf: formatBdf(pf),
			vendorId: pciId(input.vendorId),
			deviceId: pciId(input.deviceId),
			sriov: {
				...input.sriov,
				vfBarBase: `0x${geometry.vfBarBase.toString(16)}`,
				vfBarSize: `0x${geometry.vfBarSize.toString(16)}`,
			},
		});
		return c.json(device, created ? 201 : 200);
	},
);

pciRoutes.openapi(
	createRoute({
		method: "get",
		path: devicePath,
		operationId: "getPciDevice",
		tags: ["pci"],
		summary: "A physical function and how many of its VFs are in use",
		security: adminSecurity,
		middleware: [requireAdmin()] as const,
		request: { params: DeviceParams },
		responses: {
			200: json(Device, "the device"),
			...problemResponses("invalid_request", "unauthorized", "device_not_found"),
		},
	}),
	async (c) => {
		const { hostId, bdf } = c.req.valid("param");
		const device = await deviceOf(c, hostId, bdf).getDevice();
		if (!device) throw new Problem("device_not_found", `no PCI device ${bdf} on host ${hostId}`);
		return c.json(device, 200);
	},
);

pciRoutes.openapi(
	createRoute({
		method: "get",
		path: "/v1/hosts/{hostId}/pci-devices",
		operationId: "listPciDevices",
		tags: ["pci"],
		summary: "A host's physical functions, in BDF order",
		security: adminSecurity,
		middleware: [requireAdmin()] as const,
		request: { params: HostIdParam },
		responses: {
			200: json(DeviceList, "the host's devices"),
			...problemResponses("invalid_request", "unauthorized", "host_not_found"),
		},
	}),
	async (c) => {
		const { hostId } = c.req.valid("param");
		return c.json({ devices: await devicesOf(c, hostId) }, 200);
	},
);

pciRoutes.openapi(
	createRoute({
		method: "post",
		path: `${devicePath}/vfs`,
		operationId: "createVirtualFunction",
		tags: ["pci"],
		summary: "Create a virtual function for a VM and map its BAR at a virtual address",
		security: adminSecurity,
		middleware: [requireAdmin()] as const,
		request: { params: DeviceParams, body: body(CreateVfInput) },
		responses: {
			201: json(CreatedVf, "created"),
			...problemResponses(
				"invalid_request",
				"unauthorized",
				"device_not_found",
				"no_free_vf",
				"vm_not_found",
				"payload_too_large",
			),
		},
	}),
	async (c) => {
		const { hostId, bdf } = c.req.valid("param");
		const created = await deviceOf(c, hostId, bdf).createVf(c.req.valid("json"));
		return c.json(created, 201);
	},
);

/** Admin, or the agent token of the host in the path (checked by its service processor). */
const requireAdminOrAgent = (): MiddlewareHandler<AppEnv> =>
	async function requireAdminOrAgent(c, next) {
		if (!(await isAdmin(c))) {
			const token = bearerToken(c);
			const hostId = c.req.param("hostId") ?? "";
			const verified =
				token !== undefined &&
				isIdentifier(hostId) &&
				(await serviceProcessor(c.env, hostId).verifyAgentToken(token));
			if (!verified)
				throw new Problem("unauthorized", "admin or host agent bearer token missing or wrong");
		}
		await next();
	};

pciRoutes.openapi(
	createRoute({
		method: "post",
		path: `${devicePath}/translate`,
		operationId: "translateAddress",
		tags: ["pci"],
		summary: "Translate a driver's virtual address to the physical address now serving it",
		description:
			"Admin token or the host agent's token. During a hold it waits up to 2 s for the lift.",
		security: [...adminSecurity, { agentToken: [] }],
		middleware: [requireAdminOrAgent()] as const,
		request: { params: DeviceParams, body: body(TranslateInput) },
		responses: {
			200: json(Translation, "translated"),
			...problemResponses(
				"invalid_request",
				"unauthorized",
				"device_not_found",
				"address_not_mapped",
				"function_on_hold",
				"payload_too_large",
			),
		},
	}),
	async (c) => {
		const { hostId, bdf } = c.req.valid("param");
		const { virtualAddress } = c.req.valid("json");
		return c.json(await deviceOf(c, hostId, bdf).translate(virtualAddress), 200);
	},
);

pciRoutes.openapi(
	createRoute({
		method: "post",
		path: `${devicePath}/vfs/{vfIndex}/transfer`,
		operationId: "transferVirtualFunction",
		tags: ["pci"],
		summary: "Transfer a virtual function to a free VF of another device (hold, store, lift)",
		security: adminSecurity,
		middleware: [requireAdmin()] as const,
		request: { params: VfParams, body: body(TransferInput) },
		responses: {
			200: json(TransferResult, "transferred"),
			...problemResponses(
				"invalid_request",
				"unauthorized",
				"device_not_found",
				"not_found",
				"no_free_vf",
				"payload_too_large",
			),
		},
	}),
	async (c) => {
		const { hostId, bdf, vfIndex } = c.req.valid("param");
		const { targetHostId, targetBdf } = c.req.valid("json");
		const target = canonicalBdf(targetBdf) ?? targetBdf;
		const result = await deviceOf(c, hostId, bdf).transfer({
			vfIndex: Number(vfIndex),
			targetHostId,
			targetBdf: target,
		});
		return c.json(result, 200);
	},
);

pciRoutes.openapi(
	createRoute({
		method: "get",
		path: `${devicePath}/translation-table`,
		operationId: "getTranslationTable",
		tags: ["pci"],
		summary: "The translation table of the drivers first mapped through this device",
		security: adminSecurity,
		middleware: [requireAdmin()] as const,
		request: { params: DeviceParams },
		responses: {
			200: json(TranslationTable, "the table"),
			...problemResponses("invalid_request", "unauthorized", "device_not_found"),
		},
	}),
	async (c) => {
		const { hostId, bdf } = c.req.valid("param");
		return c.json({ entries: await deviceOf(c, hostId, bdf).translationTable() }, 200);
	},
);

pciRoutes.openapi(
	createRoute({
		method: "get",
		path: `${devicePath}/events`,
		operationId: "listPciDeviceEvents",
		tags: ["pci"],
		summary:
			"The device's timeline (VF slots, holds and lifts with durations, transfers), newest first",
		security: adminSecurity,
		middleware: [requireAdmin()] as const,
		request: { params: DeviceParams },
		responses: {
			200: json(DeviceEvents, "the events"),
			...problemResponses("invalid_request", "unauthorized", "device_not_found"),
		},
	}),
	async (c) => {
		const { hostId, bdf } = c.req.valid("param");
		return c.json({ events: await deviceOf(c, hostId, bdf).events() }, 200);
	},
);
