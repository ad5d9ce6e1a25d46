/**
 * Fleet overview (hosts per broadcast domain and site, each with whether its
 * agent's control channel is live) and one host's service processor: its
 * table (VM ids and key versions, never keys or hashes) and its console
 * sessions with bytes each way, live viewers, recording and a Terminate
 * button that asks first.
 */
import { api, describeError, segment } from "./api";
import { errorBox, h, idText, table, unbroken } from "./dom";
import { formatBytes, formatMemory, formatTime, plural } from "./format";
import { recordingCell } from "./recording-summary";
import type { HostRecord as Host, SessionRecord, VmRecord as Vm } from "./types";

const sessionRefreshMs = 3000;

/** Groups items by a key, keeping first-seen order of the keys sorted by name. */
function groupBy<T>(items: T[], keyOf: (item: T) => string): Array<[string, T[]]> {
	const groups = new Map<string, T[]>();
	for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
	return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Whether the host agent's control channel is attached now (commands and consoles need it). */
function agentBadge(host: Host): HTMLElement {
	const state = host.agentConnected ? "connected" : "disconnected";
	return h("span", { class: `state agent ${state}`, title: "host agent control channel" }, state);
}

/** `#/fleet`: every host, per domain and site, with its CPU, hypervisor and VM count. */
export async function renderFleet(root: HTMLElement) {
	const { hosts } = await api.GET("/v1/hosts");
	const vmCounts = new Map(
		await Promise.all(
			hosts.map(async (host) => {
				const { vms } = await api.GET("/v1/hosts/{hostId}/vms", {
					params: { path: { hostId: host.hostId } },
				});
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
			`${plural(hosts.length, "host")} in ${plural(domains.length, "broadcast domain")}; ` +
				`${plural(hosts.filter((host) => host.agentConnected).length, "host agent")} connected.`,
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
										`${formatMemory(host.memoryMiB)} (${host.facts.memoryFreeMiB === undefined ? "?" : formatMemory(host.facts.memoryFreeMiB)})`,
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
	const params = { path: { hostId } };
	const host = await api.GET("/v1/hosts/{hostId}", { params });
	const vmsPanel = h("div");
	const sessionsPanel = h("div");
	// Sessions whose Terminate was clicked once, so a refresh keeps the question.
	const asking = new Set<string>();
	const refresh = async () => {
		const [{ vms }, { sessions }] = await Promise.all([
			api.GET("/v1/hosts/{hostId}/vms", { params }),
			api.GET("/v1/hosts/{hostId}/sessions", { params }),
		]);
		vmsPanel.replaceChildren(vmTable(vms));
		sessionsPanel.replaceChildren(sessionTable(sessions, asking, refresh));
	};
	root.replaceChildren(
		h("h1", {}, "Host ", h("code", {}, host.hostId)),
		h(
			"p",
			{ class: "muted" },
			`Domain ${host.domain} · site ${host.site} · ${host.cpu.model} · ${host.hypervisor.name} ${host.hypervisor.version} · ${formatMemory(host.memoryMiB)} · agent `,
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
			{ title: "VM", cell: (vm) => idText(vm.vmId) },
			{ title: "Key version", cell: (vm) => vm.keyVersion },
			{ title: "Memory", cell: (vm) => formatMemory(vm.memoryMiB) },
			{ title: "vCPUs", cell: (vm) => vm.vcpus },
			{ title: "Enrolled", cell: (vm) => unbroken(formatTime(vm.enrolledAt)) },
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

/**
 * Terminate in two steps: the first click asks, the second ends the session
 * (both sockets close with `terminated`), so a stray click cannot cut off
 * someone's console. `asking` holds the sessions being asked about.
 */
function terminateControl(
	session: SessionRecord,
	asking: Set<string>,
	refresh: () => Promise<void>,
): HTMLElement {
	const { sessionId } = session;
	const control = h("span", { class: "actions terminate" });
	const draw = () => {
		if (!asking.has(sessionId)) {
			const ask = () => {
				asking.add(sessionId);
				draw();
			};
			control.replaceChildren(
				h("button", { type: "button", class: "danger", onclick: ask }, "Terminate"),
			);
			return;
		}
		const confirm = h("button", { type: "button", class: "danger" }, "Yes, terminate");
		confirm.addEventListener("click", async () => {
			confirm.disabled = true;
			try {
				await api.DELETE("/v1/sessions/{sessionId}", { params: { path: { sessionId } } });
				asking.delete(sessionId);
				await refresh();
			} catch (error) {
				control.append(errorBox(describeError(error)));
				confirm.disabled = false;
			}
		});
		const keep = () => {
			asking.delete(sessionId);
			draw();
		};
		control.replaceChildren(
			h("span", { class: "question" }, "Really terminate?"),
			confirm,
			h("button", { type: "button", class: "secondary", onclick: keep }, "Keep open"),
		);
	};
	draw();
	return control;
}

function sessionTable(
	sessions: SessionRecord[],
	asking: Set<string>,
	refresh: () => Promise<void>,
): HTMLElement {
	if (sessions.length === 0) return h("p", { class: "muted" }, "No sessions yet.");
	return table(
		[
			{ title: "Session", cell: (session) => idText(session.sessionId) },
			{ title: "VM", cell: (session) => idText(session.vmId) },
			{
				title: "State",
				cell: (session) => h("span", { class: `state ${session.state}` }, session.state),
			},
			{ title: "From user", cell: (session) => unbroken(formatBytes(session.bytesFromUser)) },
			{ title: "From VM", cell: (session) => unbroken(formatBytes(session.bytesFromVm)) },
			{ title: "Opened", cell: (session) => unbroken(formatTime(session.createdAt)) },
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
						actions.append(
							terminateControl(session, asking, refresh),
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
