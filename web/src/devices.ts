/**
 * `#/devices`: per host, its SR-IOV physical functions with their translation
 * tables, a per-VF timeline of holds (from the device's events route), and
 * per mapping a form to transfer the function now serving it to another
 * device (again and again: a mapping stays in the table of the device it was
 * first made through, wherever its function moved).
 */
import { api, describeError, segment } from "./api";
import { errorBox, h, idText, table } from "./dom";
import { formatTime } from "./format";
import { hashQuery } from "./route-query";
import type { DeviceRecord, HostRecord, TableEntryRecord } from "./types";
import { vfTimeline } from "./vf-timeline";

/** Host picker, then every device of the chosen host. */
export async function renderDevices(root: HTMLElement) {
	const { hosts } = await api.GET("/v1/hosts");
	const sorted = [...hosts].sort((a, b) => a.hostId.localeCompare(b.hostId));
	const chosen = hashQuery().get("host") ?? sorted[0]?.hostId ?? "";
	const picker = h(
		"select",
		{ id: "device-host" },
		...sorted.map((host) =>
			h("option", { value: host.hostId, selected: host.hostId === chosen }, host.hostId),
		),
	);
	picker.addEventListener("change", () => {
		location.hash = `#/devices?host=${segment(picker.value)}`;
	});
	const panel = h("div");
	root.replaceChildren(h("h1", {}, "Devices"), h("label", {}, "Host ", picker), panel);
	await drawHost(chosen, sorted, panel);
	return undefined;
}

async function drawHost(hostId: string, hosts: HostRecord[], panel: HTMLElement): Promise<void> {
	const targets = (
		await Promise.all(
			hosts.map(async (host) => {
				const list = await api.GET("/v1/hosts/{hostId}/pci-devices", {
					params: { path: { hostId: host.hostId } },
				});
				return list.devices;
			}),
		)
	).flat();
	const devices = targets.filter((device) => device.hostId === hostId);
	if (devices.length === 0) {
		panel.replaceChildren(h("p", { class: "muted" }, `No SR-IOV devices on ${hostId}.`));
		return;
	}
	panel.replaceChildren(
		...(await Promise.all(devices.map((device) => deviceSection(device, targets, panel, hosts)))),
	);
}

async function deviceSection(
	device: DeviceRecord,
	targets: DeviceRecord[],
	panel: HTMLElement,
	hosts: HostRecord[],
): Promise<HTMLElement> {
	const params = { path: { hostId: device.hostId, bdf: device.bdf } };
	const [{ entries }, { events }] = await Promise.all([
		api.GET("/v1/hosts/{hostId}/pci-devices/{bdf}/translation-table", { params }),
		api.GET("/v1/hosts/{hostId}/pci-devices/{bdf}/events", { params }),
	]);
	return h(
		"section",
		{ class: "device", "data-device": `${device.hostId}/${device.bdf}` },
		h(
			"h2",
			{},
			h("code", {}, device.bdf),
			` ${device.vendorId}:${device.deviceId} · ${device.vfsInUse} of ${device.sriov.totalVfs} VFs in use`,
		),
		h("h3", {}, "Translation table"),
		entries.length === 0
			? h("p", { class: "muted" }, "No mappings first made through this device.")
			: table(
					[
						{ title: "VM", cell: (entry) => idText(entry.vmId) },
						{ title: "Virtual address", cell: (entry) => h("code", {}, entry.virtualAddress) },
						{ title: "Size", cell: (entry) => entry.size },
						{
							title: "Served by",
							cell: (entry) =>
								`${entry.target.hostId} ${entry.target.bdf} VF ${entry.target.vfIndex}`,
						},
						{ title: "Offset", cell: (entry) => h("code", {}, entry.offset) },
						{
							title: "State",
							cell: (entry) => h("span", { class: `state ${entry.state}` }, entry.state),
						},
						{ title: "Version", cell: (entry) => entry.version },
						{
							title: "",
							cell: (entry) => transferForm(device.hostId, entry.target, targets, panel, hosts),
						},
					],
					entries,
					{ class: "translation-table" },
				),
		h("h3", {}, "VF timeline"),
		vfTimeline(events),
		h("p", { class: "muted" }, `Registered ${formatTime(device.createdAt)}`),
	);
}

/**
 * Transfers the function now serving a mapping (`serving`, wherever it
 * moved) to a free VF of another device; `shownHostId` is redrawn after.
 */
function transferForm(
	shownHostId: string,
	serving: TableEntryRecord["target"],
	targets: DeviceRecord[],
	panel: HTMLElement,
	hosts: HostRecord[],
): HTMLElement {
	const others = targets.filter(
		(target) => !(target.hostId === serving.hostId && target.bdf === serving.bdf),
	);
	const select = h(
		"select",
		{ name: "target" },
		...others.map((target) =>
			h("option", { value: `${target.hostId}/${target.bdf}` }, `${target.hostId} ${target.bdf}`),
		),
	);
	const message = h("span");
	const form = h(
		"form",
		{ class: "inline transfer", "data-vf": serving.vfIndex },
		select,
		h("button", { type: "submit" }, `Transfer VF ${serving.vfIndex}`),
		message,
	);
	form.addEventListener("submit", async (event) => {
		event.preventDefault();
		const [targetHostId = "", targetBdf = ""] = select.value.split("/");
		try {
			await api.POST("/v1/hosts/{hostId}/pci-devices/{bdf}/vfs/{vfIndex}/transfer", {
				params: {
					path: { hostId: serving.hostId, bdf: serving.bdf, vfIndex: String(serving.vfIndex) },
				},
				body: { targetHostId, targetBdf },
			});
			await drawHost(shownHostId, hosts, panel);
		} catch (error) {
			message.replaceChildren(errorBox(describeError(error)));
		}
	});
	return form;
}
