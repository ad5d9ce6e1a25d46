/**
 * Which hosts the migration form offers for a VM, best first: never the
 * VM's own host (`422 same_host`); hosts whose agent is connected before
 * those whose agent is not (a disconnected agent cannot receive the
 * migration); then the VM's own broadcast domain and site; then by name. The
 * first is the form's default, so it is never the newest host merely for
 * being new.
 */
import type { HostRecord } from "./types";

/** A target host with the option text that says what makes it a worse choice. */
export type TargetOption = { host: HostRecord; label: string };

/** The hosts a VM on `sourceHostId` can move to, best first. */
export function targetHosts(hosts: HostRecord[], sourceHostId: string): TargetOption[] {
	const source = hosts.find((host) => host.hostId === sourceHostId);
	const rank = (host: HostRecord) =>
		(host.agentConnected ? 0 : 4) +
		(host.domain === source?.domain ? 0 : 2) +
		(host.site === source?.site ? 0 : 1);
	return hosts
		.filter((host) => host.hostId !== sourceHostId)
		.sort((a, b) => rank(a) - rank(b) || a.hostId.localeCompare(b.hostId))
		.map((host) => ({
			host,
			label: `${host.hostId} (${host.domain}, ${host.site})${host.agentConnected ? "" : " · agent disconnected"}`,
		}));
}
