/**
 * The parts of a service processor, wired once per instance: the one place
 * that says which part uses which (../service-processor.ts is its RPC surface
 * and lifecycle). `schemaReady` says whether the object holds a host yet;
 * `recordings` is the bucket of the object's current `env` (read at each put).
 */
import { SeenJtis } from "../seen-jtis";
import { virtualMachine } from "../stubs";
import type { AccessParts } from "./access";
import { AgentChannel } from "./agent";
import { AuditTrail } from "./audit";
import { SessionCarrier } from "./carry";
import { DirectorySync } from "./directory";
import { HostStore } from "./host";
import { KeyLockouts } from "./lockouts";
import { Recorder } from "./recordings";
import { Relay } from "./relay";
import { type SessionLimits, sessionLimitsFrom } from "./session-record";
import { SessionStore } from "./sessions";
import { SocketEvents } from "./socket-events";
import { VmTable } from "./table";
import { Upkeep } from "./upkeep";
import { Viewers } from "./viewers";
import { VmRegistry } from "./vm-registry";

export interface ServiceProcessorParts {
	readonly hosts: HostStore;
	readonly table: VmTable;
	readonly audit: AuditTrail;
	readonly agent: AgentChannel;
	readonly sessions: SessionStore;
	readonly recorder: Recorder;
	readonly viewers: Viewers;
	readonly relay: Relay;
	readonly sockets: SocketEvents;
	readonly directory: DirectorySync;
	readonly seenJtis: SeenJtis;
	readonly lockouts: KeyLockouts;
	readonly access: AccessParts;
	readonly vms: VmRegistry;
	readonly upkeep: Upkeep;
	readonly carrier: SessionCarrier;
	readonly sessionLimits: SessionLimits;
}

export function wireParts(
	ctx: DurableObjectState,
	env: Env,
	object: { schemaReady: () => boolean; recordings: () => R2Bucket },
): ServiceProcessorParts {
	const { schemaReady, recordings } = object;
	const hosts = new HostStore(ctx.storage, () => schemaReady());
	const table = new VmTable(ctx.storage.sql);
	const seenJtis = new SeenJtis(ctx.storage.sql);
	const lockouts = new KeyLockouts(ctx.storage.sql);
	const audit = new AuditTrail(ctx.storage.sql);
	const agent = new AgentChannel(ctx);
	const recorder = new Recorder(ctx.storage, audit);
	const viewers = new Viewers(ctx, audit);
	const sessionLimits = sessionLimitsFrom(env);
	const sessions = new SessionStore(ctx, audit, agent, sessionLimits, recorder, viewers);
	const relay = new Relay(ctx, sessions, audit, recorder, viewers);
	const sockets = new SocketEvents(agent, relay);
	const directory = new DirectorySync(
		ctx.storage.sql,
		env,
		() => hosts.get(),
		() => table.list().map((row) => row.vmId),
	);
	const upkeep = new Upkeep({
		storage: ctx.storage,
		recordings,
		sessions,
		recorder,
		directory,
	});
	const carrier = new SessionCarrier(ctx.storage.sql, sessions, agent, audit, env, {
		hostId: () => hosts.get()?.hostId ?? "",
		schedule: (deadlineMs) => upkeep.alarm.schedule(deadlineMs),
	});
	const vms = new VmRegistry({
		virtualMachine: (vmId) => virtualMachine(env, vmId),
		carrier,
		storage: ctx.storage,
		hosts,
		table,
		seenJtis,
		lockouts,
		audit,
		sessions,
		schemaReady,
		storeRecordings: () => upkeep.storeRecordings(),
		queueHolder: (change, vmId) => {
			const host = hosts.get();
			if (host) directory.queueHolder(change, host.domain, vmId);
		},
		syncDirectory: () => upkeep.syncDirectory(),
	});
	const access: AccessParts = {
		hosts,
		table,
		sessions,
		audit,
		lockouts,
		seenJtis,
		handingOff: (vmId) => vms.isHandingOff(vmId),
	};
	return {
		hosts,
		table,
		audit,
		agent,
		sessions,
		recorder,
		viewers,
		relay,
		sockets,
		directory,
		seenJtis,
		lockouts,
		access,
		vms,
		upkeep,
		carrier,
		sessionLimits,
	};
}
