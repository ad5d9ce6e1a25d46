// @ts-check
// Live migration with QEMU, the way Nova and Proxmox drive it: the target
// starts an incoming QEMU (`-incoming defer` + `migrate-incoming`) and says
// where it listens; the source runs `migrate` and follows `query-migrate`
// until `completed | failed | cancelled`. Hosts never talk to each other
// except through QEMU's stream: the control plane carries the definition and
// the address between them.

/** How often the source reads `query-migrate`. */
const pollMs = 100;
/** Progress webhooks at most this often, so a long copy does not flood them. */
const progressEveryMs = 500;
/** An incoming QEMU nobody migrates into is stopped after this long. */
const incomingIdleMs = 10 * 60 * 1000;

/**
 * Where a new incoming QEMU listens: `--migration-address` is `HOST` (any
 * free port) or `HOST:PORT`.
 * @param {string} migrationAddress
 */
export function listenUri(migrationAddress) {
	const match = migrationAddress.match(/^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/);
	if (!match)
		throw new Error(`--migration-address ${migrationAddress}: expected HOST or HOST:PORT`);
	return { host: match[1] ?? "", uri: `tcp:${match[1]}:${match[2] ?? 0}` };
}

/**
 * Turns on what both ends need: MIGRATION events.
 * @param {import("./qmp.mjs").QmpClient} qmp
 */
async function enableMigrationEvents(qmp) {
	await qmp.execute("migrate-set-capabilities", {
		capabilities: [{ capability: "events", state: true }],
	});
}

/**
 * Starts listening on an incoming QEMU; resolves with the address to give the source.
 * @param {import("./qmp.mjs").QmpClient} qmp @param {string} migrationAddress
 */
export async function listenForMigration(qmp, migrationAddress) {
	const { host, uri } = listenUri(migrationAddress);
	await enableMigrationEvents(qmp);
	await qmp.execute("migrate-incoming", { uri });
	const info = await qmp.execute("query-migrate");
	// QEMU reports the bound port as a string.
	const port = Number(info["socket-address"]?.[0]?.port);
	if (!Number.isInteger(port) || port <= 0)
		throw new Error("QEMU did not report its listening port");
	return `tcp:${host}:${port}`;
}

/**
 * Resolves once the incoming VM runs (QEMU's `RESUME` after the load, or
 * `running` already); rejects when QEMU goes away or nothing arrives in time.
 * @param {import("./qmp.mjs").QmpClient} qmp
 */
export async function waitUntilIncomingRuns(qmp) {
	const resumed = qmp.waitForEvent("RESUME", incomingIdleMs);
	const status = await qmp.execute("query-status");
	if (status.status === "running") {
		resumed.catch(() => {});
		return;
	}
	await resumed;
}

/**
 * @typedef {{totalTimeMs: number, downtimeMs: number, transferredBytes: number}} MigrationStats
 * @typedef {{status: "completed", stats: MigrationStats} | {status: "failed", reason: string} | {status: "cancelled"}} CopyOutcome
 */

/**
 * Copies a running VM to `address` and follows the copy to its end.
 * @param {import("./qmp.mjs").QmpClient} qmp
 * @param {string} address a `tcp:HOST:PORT` the schema has checked
 * @param {FollowOptions & {bandwidthMiBs?: number}} options
 * @returns {Promise<CopyOutcome>}
 */
export async function copyVm(qmp, address, { bandwidthMiBs, ...follow }) {
	await enableMigrationEvents(qmp);
	if (bandwidthMiBs !== undefined) {
		await qmp.execute("migrate-set-parameters", {
			"max-bandwidth": Math.round(bandwidthMiBs * 1024 * 1024),
		});
	}
	await qmp.execute("migrate", { uri: address });
	return followCopy(qmp, follow);
}

/**
 * @typedef {{
 *   onProgress: (progress: {percent: number, phase: string}) => void,
 *   cancelled: () => boolean,
 * }} FollowOptions `cancelled` is read on every poll: a cancel that came before `migrate` still stops the copy
 */

/**
 * Follows a copy QEMU is running (one this agent started, or one a previous
 * agent left running) until `completed | failed | cancelled`.
 * @param {import("./qmp.mjs").QmpClient} qmp
 * @param {FollowOptions} options
 * @returns {Promise<CopyOutcome>}
 */
export async function followCopy(qmp, { onProgress, cancelled }) {
	let lastReportMs = 0;
	let cancelSent = false;
	for (;;) {
		if (cancelled() && !cancelSent) {
			cancelSent = true;
			await qmp.execute("migrate_cancel");
		}
		const info = await qmp.execute("query-migrate");
		const outcome = outcomeOf(info);
		if (outcome) return outcome;
		if (Date.now() - lastReportMs >= progressEveryMs) {
			lastReportMs = Date.now();
			onProgress(progressOf(info));
		}
		await new Promise((resolve) => setTimeout(resolve, pollMs));
	}
}

/**
 * How a copy ended, from one `query-migrate`; undefined while it runs.
 * @param {Record<string, any>} info
 * @returns {CopyOutcome | undefined}
 */
function outcomeOf(info) {
	switch (info.status) {
		case "completed":
			// QEMU says completed a moment before it has measured the copy (total-time 0): ask again.
			if (!info["total-time"]) return undefined;
			return {
				status: "completed",
				stats: {
					totalTimeMs: Number(info["total-time"] ?? 0),
					downtimeMs: Number(info.downtime ?? 0),
					transferredBytes: Number(info.ram?.transferred ?? 0),
				},
			};
		case "failed":
			return { status: "failed", reason: `QEMU: ${info["error-desc"] ?? "migration failed"}` };
		case "cancelled":
			return { status: "cancelled" };
		default:
			return undefined;
	}
}

/**
 * Percent and phase from one `query-migrate`: memory copied out of all, held
 * below 100 until QEMU says completed; the phase names the dirty-page pass.
 * @param {{status?: string, ram?: {total?: number, remaining?: number, "dirty-sync-count"?: number}}} info
 */
export function progressOf(info) {
	const total = Number(info.ram?.total ?? 0);
	const remaining = Number(info.ram?.remaining ?? total);
	const percent =
		total > 0 ? Math.min(99, Math.max(0, Math.floor((100 * (total - remaining)) / total))) : 0;
	const pass = info.ram?.["dirty-sync-count"];
	const phase =
		info.status === "active" && pass ? `copying, pass ${pass}` : (info.status ?? "setup");
	return { percent, phase };
}
