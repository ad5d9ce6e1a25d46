/**
 * `#/migrations`: every VM's migrations and a form to start one (or a dry
 * run); `#/migrations/{id}`: one migration explained (see migration-view.ts),
 * followed live through its Server-Sent Events stream, and cancellable while
 * it validates or copies.
 */
import { api, describeError, segment } from "./api";
import { errorBox, h, idText, table, unbroken } from "./dom";
import { formatTime } from "./format";
import { targetHosts } from "./migration-targets";
import { followMigration, renderMigrationRecord } from "./migration-view";
import { hashQuery } from "./route-query";
import type { HostRecord, MigrationRecord, VmRecord } from "./types";

type PlacedVm = VmRecord & { hostId: string };

/** Every enrolled VM with its host, for the form and the list. */
async function placedVms(hosts: HostRecord[]): Promise<PlacedVm[]> {
	const perHost = await Promise.all(
		hosts.map(async (host) => {
			const { vms } = await api.GET("/v1/hosts/{hostId}/vms", {
				params: { path: { hostId: host.hostId } },
			});
			return vms.map((vm) => ({ ...vm, hostId: host.hostId }));
		}),
	);
	return perHost.flat().sort((a, b) => a.vmId.localeCompare(b.vmId));
}

/** The list (newest first) and the start form. */
export async function renderMigrations(root: HTMLElement) {
	const { hosts } = await api.GET("/v1/hosts");
	const vms = await placedVms(hosts);
	const lists = await Promise.all(
		vms.map((vm) => api.GET("/v1/vms/{vmId}/migrations", { params: { path: { vmId: vm.vmId } } })),
	);
	const migrations = lists
		.flatMap((list) => list.migrations)
		.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
	const result = h("div", { id: "migration-result" });
	root.replaceChildren(
		h("h1", {}, "Migrations"),
		startForm(vms, hosts, result),
		result,
		h("h2", {}, "History"),
		migrations.length === 0
			? h("p", { class: "muted" }, "No migrations yet.")
			: table(
					[
						{
							title: "Migration",
							cell: (record) =>
								h(
									"a",
									{ href: `#/migrations/${segment(record.migrationId)}` },
									idText(record.migrationId),
								),
						},
						{ title: "VM", cell: (record) => idText(record.vmId) },
						{
							title: "From → to",
							cell: (record) => `${record.sourceHostId} → ${record.targetHostId}`,
						},
						{
							title: "State",
							cell: (record) => h("span", { class: `state ${record.state}` }, record.state),
						},
						{ title: "Progress", cell: (record) => `${Math.round(record.progress.percent)} %` },
						{ title: "Started", cell: (record) => unbroken(formatTime(record.createdAt)) },
					],
					migrations,
					{ class: "migrations" },
				),
	);
	return undefined;
}

function startForm(vms: PlacedVm[], hosts: HostRecord[], result: HTMLElement): HTMLFormElement {
	const chosenVm = hashQuery().get("vm");
	const vmSelect = h(
		"select",
		{ name: "vmId", required: true },
		...vms.map((vm) =>
			h(
				"option",
				{ value: vm.vmId, selected: vm.vmId === chosenVm },
				`${vm.vmId} (on ${vm.hostId})`,
			),
		),
	);
	const hostSelect = h("select", { name: "targetHostId", required: true });
	// The targets depend on where the chosen VM is: never its own host.
	const offerTargets = () => {
		const source = vms.find((vm) => vm.vmId === vmSelect.value)?.hostId ?? "";
		hostSelect.replaceChildren(
			...targetHosts(hosts, source).map(({ host, label }) =>
				h("option", { value: host.hostId }, label),
			),
		);
	};
	vmSelect.addEventListener("change", offerTargets);
	offerTargets();
	const dryRun = h("input", { type: "checkbox", name: "dryRun" });
	const form = h(
		"form",
		{ class: "inline", id: "start-migration" },
		h("label", {}, "VM", vmSelect),
		h("label", {}, "Target host", hostSelect),
		h("label", { class: "check" }, dryRun, "Dry run"),
		h("button", { type: "submit" }, "Assess & migrate"),
	);
	form.addEventListener("submit", async (event) => {
		event.preventDefault();
		result.replaceChildren();
		try {
			const record = await api.POST("/v1/migrations", {
				body: { vmId: vmSelect.value, targetHostId: hostSelect.value, dryRun: dryRun.checked },
			});
			if (dryRun.checked) {
				result.replaceChildren(
					h("h2", {}, "Dry run: nothing stored or sent"),
					renderMigrationRecord(record),
				);
			} else location.hash = `#/migrations/${segment(record.migrationId)}`;
		} catch (error) {
			result.replaceChildren(errorBox(describeError(error)));
		}
	});
	return form;
}

/** States a migration can still be cancelled in (API: `409 not_cancellable` after). */
const cancellableStates = new Set(["validating", "migrating"]);

/** One migration, redrawn on every event of its stream until it ends. */
export async function renderMigration(root: HTMLElement, [migrationId = ""]: string[]) {
	const params = { path: { migrationId } };
	const record = await api.GET("/v1/migrations/{migrationId}", { params });
	// Outside the redrawn record, so progress events do not replace it under the pointer.
	const cancel = h(
		"button",
		{ type: "button", class: "danger", id: "cancel-migration" },
		"Cancel migration",
	);
	const message = h("span");
	const body = h("div");
	const draw = (latest: MigrationRecord) => {
		cancel.hidden = !cancellableStates.has(latest.state);
		body.replaceChildren(renderMigrationRecord(latest));
	};
	cancel.addEventListener("click", async () => {
		cancel.disabled = true;
		message.replaceChildren();
		try {
			draw(await api.POST("/v1/migrations/{migrationId}/cancel", { params }));
		} catch (error) {
			message.replaceChildren(errorBox(describeError(error)));
		}
		cancel.disabled = false;
	});
	root.replaceChildren(
		h("p", {}, h("a", { href: "#/migrations" }, "← Migrations")),
		h("p", { class: "actions" }, cancel, message),
		body,
	);
	draw(record);
	const controller = new AbortController();
	void followMigration(migrationId, record, draw, controller.signal);
	return () => controller.abort();
}
