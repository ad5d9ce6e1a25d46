/**
 * zod schemas for PCI devices, virtual functions, translation and transfer
 * (API.md, "PCI devices and function transfer"): the single source for
 * validation, TypeScript types and the OpenAPI document.
 */
import { z } from "@hono/zod-openapi";
import { HostIdParam, Identifier } from "../ids";
import { unsignedHexPattern } from "../pci";

const bdfPattern = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]$/;

/** A PCI address `DDDD:BB:DD.F` in hex (device ≤ 0x1f, function ≤ 7). */
export const BdfText = z
	.string()
	.regex(bdfPattern, "must be a PCI address DDDD:BB:DD.F in hex (device ≤ 1f, function ≤ 7)")
	.openapi({ example: "0000:3b:00.0" });

/** An unsigned 64-bit address as `0x…` hex. */
export const HexAddress = z
	.string()
	.regex(unsignedHexPattern, "must be a hex address 0x… of at most 64 bits")
	.openapi({ example: "0x7f0000000000" });

/** A signed 64-bit+ offset as `0x…` or `-0x…` hex. */
export const HexOffset = z
	.string()
	.regex(/^-?0x[0-9a-f]+$/)
	.openapi({ example: "-0x7eff80000000" });

/** A 16-bit PCI id, as `0x8086`, `8086` or the number 32902; answered as `0x8086`. */
export const PciId = z
	.union([
		z.string().regex(/^(0x)?[0-9a-fA-F]{1,4}$/, "must be a 16-bit hex id such as 0x8086"),
		z.number().int().min(0).max(0xffff),
	])
	.openapi({ example: "0x8086" });

/** Device path parameters. */
export const DeviceParams = HostIdParam.extend({
	bdf: BdfText.openapi({ param: { name: "bdf", in: "path" } }),
});

/** Virtual-function path parameters. */
export const VfParams = DeviceParams.extend({
	vfIndex: z
		.string()
		.regex(/^\d{1,5}$/, "must be a VF index 0…65534")
		.openapi({ param: { name: "vfIndex", in: "path" }, example: "0" }),
});

/** SR-IOV capability fields; hex for addresses and sizes (a size may also be a number). */
export const SriovInput = z.object({
	totalVfs: z.number().int().min(1).max(0xffff).openapi({ example: 8 }),
	firstVfOffset: z.number().int().min(1).max(0xffff).openapi({ example: 128 }),
	vfStride: z.number().int().min(1).max(0xffff).openapi({ example: 2 }),
	vfBarBase: HexAddress.openapi({ example: "0x800000000" }),
	vfBarSize: z
		.union([HexAddress, z.number().int().positive()])
		.openapi({ example: "0x4000", description: "power of two, bytes" }),
});

/** Body of `PUT …/pci-devices/{bdf}`. */
export const DeviceInput = z
	.object({ vendorId: PciId, deviceId: PciId, sriov: SriovInput })
	.openapi("PciDeviceInput");

/** A registered physical function. */
export const Device = z
	.object({
		hostId: z.string(),
		bdf: z.string(),
		vendorId: z.string(),
		deviceId: z.string(),
		sriov: z.object({
			totalVfs: z.number().int(),
			firstVfOffset: z.number().int(),
			vfStride: z.number().int(),
			vfBarBase: z.string(),
			vfBarSize: z.string(),
		}),
		vfsInUse: z.number().int(),
		createdAt: z.string(),
		updatedAt: z.string(),
	})
	.openapi("PciDevice");

/** Body of `POST …/vfs`. */
export const CreateVfInput = z
	.object({ vmId: Identifier, virtualAddress: HexAddress })
	.openapi("CreateVfInput");

const MappingState = z.enum(["active", "held"]);

/** A driver mapping as the VF-creation answer shows it. */
export const Mapping = z.object({
	virtualAddress: z.string(),
	size: z.string(),
	offset: HexOffset,
	state: MappingState,
	version: z.number().int(),
});

/** Answer of `POST …/vfs`. */
export const CreatedVf = z
	.object({
		vfIndex: z.number().int(),
		vfBdf: z.string(),
		baseAddress: z.string(),
		mapping: Mapping,
	})
	.openapi("CreatedVf");

/** Body of `POST …/translate`. */
export const TranslateInput = z.object({ virtualAddress: HexAddress }).openapi("TranslateInput");

/** Answer of `POST …/translate`. */
export const Translation = z
	.object({
		physicalAddress: z.string(),
		hostId: z.string(),
		bdf: z.string(),
		vfIndex: z.number().int(),
		mappingVersion: z.number().int(),
	})
	.openapi("Translation");

/** Body of `POST …/vfs/{vfIndex}/transfer`. */
export const TransferInput = z
	.object({ targetHostId: Identifier, targetBdf: BdfText })
	.openapi("TransferInput");

const FunctionRef = z.object({ hostId: z.string(), bdf: z.string(), vfIndex: z.number().int() });

/** Answer of a completed transfer. */
export const TransferResult = z
	.object({
		transferId: z.string(),
		state: z.literal("completed"),
		from: FunctionRef,
		to: FunctionRef.extend({ vfBdf: z.string(), baseAddress: z.string() }),
		offset: HexOffset,
		mappingVersion: z.number().int(),
	})
	.openapi("TransferResult");

/** One translation-table entry. */
export const TableEntry = z.object({
	virtualAddress: z.string(),
	size: z.string(),
	vmId: z.string(),
	target: FunctionRef,
	offset: HexOffset,
	state: MappingState,
	version: z.number().int(),
});

/** Answer of `GET …/translation-table`. */
export const TranslationTable = z
	.object({ entries: z.array(TableEntry) })
	.openapi("TranslationTable");

/** Kinds of device event: VF slot changes, holds and lifts, transfer outcomes. */
export const EventType = z.enum([
	"vf.created",
	"vf.reserved",
	"vf.activated",
	"vf.released",
	"mapping.held",
	"mapping.lifted",
	"transfer.completed",
	"transfer.rolled_back",
]);

/** One event of a device's timeline. */
export const DeviceEvent = z.object({
	id: z.number().int(),
	type: EventType,
	at: z.string(),
	vfIndex: z.number().int().nullable(),
	virtualAddress: z.string().nullable(),
	transferId: z.string().nullable(),
	durationMs: z
		.number()
		.nullable()
		.openapi({ description: "hold duration (mapping.lifted) or transfer duration" }),
	mappingVersion: z.number().int().nullable(),
});

/** Answer of `GET …/events`, newest first. */
export const DeviceEvents = z.object({ events: z.array(DeviceEvent) }).openapi("PciDeviceEvents");

/** A host's registered devices. */
export const DeviceList = z.object({ devices: z.array(Device) }).openapi("PciDeviceList");

export type DeviceInputBody = z.infer<typeof DeviceInput>;
export type DeviceRecord = z.infer<typeof Device>;
export type CreatedVfRecord = z.infer<typeof CreatedVf>;
export type TranslationRecord = z.infer<typeof Translation>;
export type TransferRecord = z.infer<typeof TransferResult>;
export type TableEntryRecord = z.infer<typeof TableEntry>;
export type DeviceEventRecord = z.infer<typeof DeviceEvent>;
export type EventTypeName = z.infer<typeof EventType>;
