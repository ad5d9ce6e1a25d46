/**
 * Fleet overview (hosts per broadcast domain and site, each with whether its
 * agent's control channel is live) and one host's service processor: its
 * table (VM ids and key versions, never keys or hashes) and its console
 * sessions with bytes each way, live viewers, recording and a Terminate button.
 */
import { api, segment } from "./api";
import { errorBox, formatBytes, formatTime, h, table } from "./dom";
import type { HostRecord as Host, SessionRecord, VmRecord as Vm } from "./types";

const sessionRefreshMs = 3000;

/** Groups items by a key, keeping first-seen order of the keys sorted by name. */
function groupBy<T>(items: T[], keyOf: (item: T) => string): Array<[string, T[]]> {
	const groups = new Map<string, T[]>();
	for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
	return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}

const gib = (mib: number) => `${Math.round(mib / 1024)} GiB`;

/** Whether the host agent's control channel is attached now (commands and consoles need it). */
function agentBadge(host: Host): HTMLElement {
	const state = host.agentConnected ? "connected" : "disconnected";
	return h("span", { class: `state agent ${state}`, title: "host agent control channel" }, state);
}

/** `#/fleet`: every host, per domain and site, with its CPU, hypervisor and VM count. */
export async function renderFleet(root: HTMLElement) {
	const { hosts } = await api<{ hosts: Host[] }>("GET", "/v1/hosts");
	const vmCounts = new Map(
		await Promise.all(
			hosts.map(async (host) => {
				const { vms } = await api<{ vms: Vm[] }>("GET", `/v1/hosts/${segment(host.hostId)}/vms`);
				return [host.hostId, vms.length] as const;
			}),
		),
	);
	const domains = groupBy(hosts, (host) => host.domain);
	root.replaceChildren(
		h("h1", {}, "Fleet"),
		h(
			"p",
			{ class: "muted" },
			`${hosts.length} hosts in ${domains.length} broadcast domains; ${hosts.filter((host) => host.agentConnected).length} host agents connected.`,
		),
		...domains.map(([domain, domainHosts]) =>
			h(
				"section",
				{ class: "domain", "data-domain": domain },
				h("h2", {}, "Domain ", h("code", {}, domain)),
				...groupBy(domainHosts, (host) => host.site).map(([site, siteHosts]) =>
					h(
						"div",
						{ class: "site" },
						h("h3", {}, `Site ${site}`),
						table(
							[
								{
									title: "Host",
									cell: (host) => h("a", { href: `#/hosts/${segment(host.hostId)}` }, host.hostId),
								},
								{ title: "Agent", cell: agentBadge },
								{ title: "CPU", cell: (host) => host.cpu.model },
								{
									title: "Hypervisor",
									cell: (host) => `${host.hypervisor.name} ${host.hypervisor.version}`,
								},
								{
									title: "Memory (free)",
									cell: (host) =>
										`${gib(host.memoryMiB)} (${host.facts.memoryFreeMiB === undefined ? "?" : gib(host.facts.memoryFreeMiB)})`,
								},
								{ title: "VMs", cell: (host) => vmCounts.get(host.hostId) ?? 0 },
							],
							siteHosts,
							{ class: "hosts" },
						),
					),
				),
			),
		),
	);
	return undefined;
}

/** `#/hosts/{hostId}`: the SP table and its sessions, refreshed while shown. */
export async function renderHost(root: HTMLElement, [hostId = ""]: string[]) {
	const host = await api<Host>("GET", `/v1/hosts/${segment(hostId)}`);
	const vmsPanel = h("div");
	const sessionsPanel = h("div");
	const refresh = async () => {
		const [{ vms }, { sessions }] = await Promise.all([
			api<{ vms: Vm[] }>("GET", `/v1/hosts/${segment(hostId)}/vms`),
			api<{ sessions: SessionRecord[] }>("GET", `/v1/hosts/${segment(hostId)}/sessions`),
		]);
		vmsPanel.replaceChildren(vmTable(vms));
		sessionsPanel.replaceChildren(sessionTable(sessions, refresh));
	};
	root.replaceChildren(
		h("h1", {}, "Host ", h("code", {}, host.hostId)),
		h(
			"p",
			{ class: "muted" },
			`Domain ${host.domain} · site ${host.site} · ${host.cpu.model} · ${host.hypervisor.name} ${host.hypervisor.version} · ${gib(host.memoryMiB)} · agent `,
			agentBadge(host),
		),
		h("h2", {}, "Service-processor table"),
		vmsPanel,
		h("h2", {}, "Console sessions"),
		sessionsPanel,
	);
	await refresh();
	const timer = setInterval(() => void refresh().catch(() => {}), sessionRefreshMs);
	return () => clearInterval(timer);
}

function vmTable(vms: Vm[]): HTMLElement {
	if (vms.length === 0) return h("p", { class: "muted" }, "No VMs enrolled.");
	return table(
		[
			{ title: "VM", cell: (vm) => h("code", {}, vm.vmId) },
			{ title: "Key version", cell: (vm) => vm.keyVersion },
			{ title: "Memory", cell: (vm) => `${vm.memoryMiB} MiB` },
			{ title: "vCPUs", cell: (vm) => vm.vcpus },
			{ title: "Enrolled", cell: (vm) => formatTime(vm.enrolledAt) },
			{
				title: "",
				cell: (vm) =>
					h("a", { href: `#/migrations?vm=${segment(vm.vmId)}`, class: "button" }, "Migrate…"),
			},
		],
		vms,
		{ class: "vms" },
	);
}

/** Size and events of a session's recording, and where it is: still recording, stored in R2, cut at the cap. */
function recordingCell(session: SessionRecord): HTMLElement {
	const { recording } = session;
	if (!recording) return h("span", { class: "recording muted" }, "—");
	const where = recording.stored
		? h("span", { class: "state stored" }, "stored")
		: session.state === "closed"
			? h(
					"span",
					{ class: "state pending", title: "the upload to R2 is retried" },
					"not stored yet",
				)
			: h("span", { class: "state recording" }, "recording");
	return h(
		"span",
		{ class: "recording" },
		`${formatBytes(recording.bytes)} · ${recording.events} events`,
		where,
		recording.truncated &&
			h("span", { class: "state truncated", title: "stopped at the 8 MiB cap" }, "truncated"),
	);
}

function sessionTable(sessions: SessionRecord[], refresh: () => Promise<void>): HTMLElement {
	if (sessions.length === 0) return h("p", { class: "muted" }, "No sessions yet.");
	const terminate = async (button: HTMLButtonElement, session: SessionRecord) => {
		button.disabled = true;
		try {
			await api("DELETE", `/v1/sessions/${segment(session.sessionId)}`);
			await refresh();
		} catch (error) {
			button.after(errorBox(String(error instanceof Error ? error.message : error)));
			button.disabled = false;
		}
	};
	return table(
		[
			{ title: "Session", cell: (session) => h("code", {}, session.sessionId.split("~")[1] ?? "") },
			{ title: "VM", cell: (session) => session.vmId },
			{
				title: "State",
				cell: (session) => h("span", { class: `state ${session.state}` }, session.state),
			},
			{ title: "From user", cell: (session) => formatBytes(session.bytesFromUser) },
			{ title: "From VM", cell: (session) => formatBytes(session.bytesFromVm) },
			{ title: "Opened", cell: (session) => formatTime(session.createdAt) },
			{ title: "Closed", cell: (session) => session.closeReason ?? "" },
			{
				title: "Viewers",
				cell: (session) => h("span", { class: "viewers" }, session.viewers),
			},
			{ title: "Recording", cell: recordingCell },
			{
				title: "",
				cell: (session) => {
					const actions = h("span", { class: "actions" });
					if (session.state !== "closed") {
						const button = h("button", { type: "button", class: "danger" }, "Terminate");
						button.addEventListener("click", () => void terminate(button, session));
						actions.append(
							button,
							h(
								"a",
								{
									class: "button",
									href: `#/recordings?session=${segment(session.sessionId)}&live=1`,
								},
								"Watch live",
							),
						);
					}
					actions.append(
						h(
							"a",
							{ class: "button", href: `#/recordings?session=${segment(session.sessionId)}` },
							"Recording",
						),
					);
					return actions;
				},
			},
		],
		sessions,
		{ class: "sessions" },
	);
}
