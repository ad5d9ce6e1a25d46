// @ts-check
// Admin commands for SR-IOV devices, their virtual functions, translation
// tables, and function transfers.
import { Option } from "commander";
import { action, hexAddress, positiveInteger, wholeNumber } from "./context.mjs";
import { print, printRecord, printTable } from "./output.mjs";

/** The path parameters naming a device. @param {{host: string, bdf: string}} options */
const deviceParams = ({ host, bdf }) => ({ path: { hostId: host, bdf: bdf.toLowerCase() } });

/** @param {import("commander").Command} program */
export function registerDeviceCommands(program) {
	const devices = program.command("devices").description("SR-IOV physical functions and their VFs");
	const deviceOptions = (/** @type {import("commander").Command} */ command) =>
		command
			.addOption(new Option("--host <hostId>", "the device's host").makeOptionMandatory())
			.addOption(new Option("--bdf <DDDD:BB:DD.F>", "the physical function").makeOptionMandatory());

	devices
		.command("list")
		.description("a host's devices")
		.addOption(new Option("--host <hostId>", "the host").makeOptionMandatory())
		.action(
			action(async ({ api, json }, /** @type {{host: string}} */ { host }) => {
				const { body } = await api.GET("/v1/hosts/{hostId}/pci-devices", {
					params: { path: { hostId: host } },
				});
				print(json, body, () =>
					printTable(
						body.devices.map((device) => ({
							...device,
							id: `${device.vendorId}:${device.deviceId}`,
							vfs: `${device.vfsInUse}/${device.sriov.totalVfs}`,
						})),
						["bdf", "id", "vfs", "updatedAt"],
					),
				);
			}),
		);

	deviceOptions(devices.command("events"))
		.description("the device's timeline: VF changes, holds with their durations, transfers")
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				const { body } = await api.GET("/v1/hosts/{hostId}/pci-devices/{bdf}/events", {
					params: deviceParams(options),
				});
				print(json, body, () =>
					printTable(
						body.events.map((event) => ({
							...event,
							durationMs: event.durationMs ?? undefined,
						})),
						[
							"at",
							"type",
							"vfIndex",
							"virtualAddress",
							"durationMs",
							"mappingVersion",
							"transferId",
						],
					),
				);
			}),
		);

	deviceOptions(devices.command("put"))
		.description("register or update a device and its SR-IOV capability")
		.requiredOption("--vendor-id <id>", "PCI vendor id, e.g. 0x8086")
		.requiredOption("--device-id <id>", "PCI device id, e.g. 0x1593")
		.requiredOption("--total-vfs <count>", "TotalVFs", positiveInteger)
		.requiredOption("--first-vf-offset <offset>", "First VF Offset", wholeNumber)
		.requiredOption("--vf-stride <stride>", "VF Stride", wholeNumber)
		.requiredOption("--vf-bar-base <address>", "base address of VF 0's BAR", hexAddress)
		.requiredOption("--vf-bar-size <bytes>", "size of one VF BAR, hex", hexAddress)
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				const { body } = await api.PUT("/v1/hosts/{hostId}/pci-devices/{bdf}", {
					params: deviceParams(options),
					body: {
						vendorId: options.vendorId,
						deviceId: options.deviceId,
						sriov: {
							totalVfs: options.totalVfs,
							firstVfOffset: options.firstVfOffset,
							vfStride: options.vfStride,
							vfBarBase: options.vfBarBase,
							vfBarSize: options.vfBarSize,
						},
					},
				});
				print(json, body, () => printRecord(body ?? { bdf: options.bdf, host: options.host }));
			}),
		);

	deviceOptions(devices.command("create-vf"))
		.description("create a VF for a VM at the driver's virtual address (lowest free index)")
		.requiredOption("--vm <vmId>", "VM the function is attached to")
		.requiredOption("--virtual-address <address>", "the driver's virtual address", hexAddress)
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				const { body } = await api.POST("/v1/hosts/{hostId}/pci-devices/{bdf}/vfs", {
					params: deviceParams(options),
					body: { vmId: options.vm, virtualAddress: options.virtualAddress },
				});
				print(json, body, () => printRecord(body));
			}),
		);

	deviceOptions(devices.command("table"))
		.description("the device's translation table")
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				const { body } = await api.GET("/v1/hosts/{hostId}/pci-devices/{bdf}/translation-table", {
					params: deviceParams(options),
				});
				print(json, body, () =>
					printTable(
						body.entries.map((entry) => ({
							...entry,
							target: `${entry.target.hostId}/${entry.target.bdf}#${entry.target.vfIndex}`,
						})),
						["virtualAddress", "size", "vmId", "target", "offset", "state", "version"],
					),
				);
			}),
		);

	deviceOptions(devices.command("translate"))
		.description("translate a driver virtual address to the physical address now serving it")
		.requiredOption("--address <address>", "virtual address inside a mapping", hexAddress)
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				const { body } = await api.POST("/v1/hosts/{hostId}/pci-devices/{bdf}/translate", {
					params: deviceParams(options),
					body: { virtualAddress: options.address },
				});
				print(json, body, () => printRecord(body));
			}),
		);

	deviceOptions(program.command("transfer"))
		.description("move a virtual function to another device (hold, retarget, lift)")
		.requiredOption("--vf <index>", "VF index on the source device", wholeNumber)
		.requiredOption("--to-host <hostId>", "target host")
		.requiredOption("--to-bdf <DDDD:BB:DD.F>", "target physical function")
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				const { body } = await api.POST(
					"/v1/hosts/{hostId}/pci-devices/{bdf}/vfs/{vfIndex}/transfer",
					{
						params: { path: { ...deviceParams(options).path, vfIndex: String(options.vf) } },
						body: { targetHostId: options.toHost, targetBdf: options.toBdf.toLowerCase() },
					},
				);
				print(json, body, () => {
					const to = body.to;
					console.log(
						`transfer ${body.transferId} ${body.state}: ${body.from.hostId}/${body.from.bdf}#${body.from.vfIndex} → ${to.hostId}/${to.bdf}#${to.vfIndex} (${to.vfBdf}, base ${to.baseAddress}, offset ${body.offset}, mapping v${body.mappingVersion})`,
					);
				});
			}),
		);
}
