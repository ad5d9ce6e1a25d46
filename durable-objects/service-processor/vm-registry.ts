import { hashSecret, newVmKey } from "../../shared/keys";
import { Problem } from "../../shared/problem";
import type { VmInput } from "../../shared/schemas/vms";
import type { SeenJti, SeenJtis } from "../seen-jtis";
import type { virtualMachine } from "../stubs";
import type { AuditTrail } from "./audit";
import type { SessionCarrier } from "./carry";
import type { HolderChange } from "./directory";
import type { HostStore } from "./host";
import type { KeyLockouts, KeyMismatch } from "./lockouts";
import type { SessionStore } from "./sessions";
import { toVmView, type VmRow, type VmTable, type VmView } from "./table";

/**
 * What admins and migrations do to the SP table: enrol (claiming the VM id
 * fleet-wide), rotate a key, remove, and the three handoff primitives. A VM
 * whose row was exported carries a handoff mark until it is released, so a
 * learned route cannot pick this SP while two of them hold the row.
 */

/** Result of enrolling or updating a VM: the key only on enrolment. */
export type VmEnrolment =
	| { created: true; vm: VmView; key: string }
	| { created: false; vm: VmView };

/**
 * A row as handed off between SPs, with the VM's jtis still refused as
 * replays and its recent key mismatches (a lockout moves with its VM).
 */
export type VmHandoff = VmRow & { seenJtis?: SeenJti[]; keyMismatches?: KeyMismatch[] };

const handoffPrefix = "handoff:";

/** Storage key marking a VM whose row was exported for a handoff. */
function handoffKey(vmId: string): string {
	return `${handoffPrefix}${vmId}`;
}

/** The parts of a service processor the SP-table operations work on. */
export interface VmRegistryParts {
	/** The VM's object (read through the service processor's current `env`). */
	virtualMachine(vmId: string): ReturnType<typeof virtualMachine>;
	storage: DurableObjectStorage;
	hosts: HostStore;
	table: VmTable;
	seenJtis: SeenJtis;
	lockouts: KeyLockouts;
	audit: AuditTrail;
	sessions: SessionStore;
	/** Sessions that follow a VM across live migrations (./carry.ts). */
	carrier: SessionCarrier;
	/** False until the object holds a host (nothing stored yet). */
	schemaReady(): boolean;
	/** Writes the recordings of sessions that an operation closed. */
	storeRecordings(): Promise<void>;
	/** Queues telling the host's domain that the table gained or lost the VM. */
	queueHolder(change: HolderChange, vmId: string): void;
	/** Runs the queued directory tasks (a failure leaves them for the alarm). */
	syncDirectory(): Promise<void>;
}

/** The SP table's operations, each with its audit record and session closes. */
export class VmRegistry {
	constructor(private readonly parts: VmRegistryParts) {}

	/**
	 * VM ids with a handoff mark, read from storage once and then kept in step
	 * with every write: each broadcast request asks, and a read each time showed.
	 */
	private marks: Set<string> | undefined;

	private handoffMarks(): Set<string> {
		if (!this.marks) {
			this.marks = new Set();
			for (const [key] of this.parts.storage.kv.list({ prefix: handoffPrefix })) {
				this.marks.add(key.slice(handoffPrefix.length));
			}
		}
		return this.marks;
	}

	private setHandoffMark(vmId: string, marked: boolean): void {
		if (marked) {
			this.parts.storage.kv.put(handoffKey(vmId), Date.now());
			this.handoffMarks().add(vmId);
		} else {
			this.parts.storage.kv.delete(handoffKey(vmId));
			this.handoffMarks().delete(vmId);
		}
	}

	/** True while the VM's row is exported and not yet released. */
	isHandingOff(vmId: string): boolean {
		return this.handoffMarks().has(vmId);
	}

	/** Enrols a VM (claiming its id fleet-wide, minting its key) or updates its attributes. */
	async enroll(vmId: string, input: VmInput): Promise<VmEnrolment> {
		const { hosts, table, audit } = this.parts;
		const host = hosts.require();
		if (table.get(vmId)) return this.update(vmId, input);
		const vm = this.parts.virtualMachine(vmId);
		await vm.claimPlacement(host.hostId);
		const key = newVmKey();
		const row: VmRow = {
			vmId,
			keyHash: await hashSecret(key),
			keyVersion: 1,
			memoryMiB: input.memoryMiB,
			vcpus: input.vcpus,
			enrolledAt: new Date().toISOString(),
		};
		// A concurrent PUT for the same VM may have won the insert meanwhile.
		if (!table.insert(row)) return this.update(vmId, input);
		this.parts.queueHolder("announce", vmId);
		audit.record("vm.enrolled", { vmId, detail: { keyVersion: 1 } });
		await this.parts.syncDirectory();
		return { created: true, vm: toVmView(row), key };
	}

	private update(vmId: string, input: VmInput): VmEnrolment {
		this.parts.table.update(vmId, input);
		this.parts.audit.record("vm.updated", { vmId });
		return { created: false, vm: toVmView(this.require(vmId)) };
	}

	private require(vmId: string): VmRow {
		const row = this.parts.table.get(vmId);
		if (!row) throw new Problem("vm_not_found", "no such VM in this service processor's table");
		return row;
	}

	/** Mints a new key; the old one stops at once and sessions opened with it close. */
	async rotateKey(vmId: string): Promise<{ keyVersion: number; key: string }> {
		const { hosts, table, sessions, audit } = this.parts;
		hosts.require();
		this.require(vmId);
		const key = newVmKey();
		const keyHash = await hashSecret(key);
		this.require(vmId);
		const keyVersion = table.rotateKey(vmId, keyHash);
		// Whoever guessed at the old key has nothing left to guess at.
		this.parts.lockouts.clear(vmId);
		sessions.closeForVm(vmId, "key_rotated");
		await this.parts.carrier.closeHeldElsewhere(vmId, "key_rotated");
		audit.record("vm.key_rotated", { vmId, detail: { keyVersion } });
		await this.parts.storeRecordings();
		return { keyVersion, key };
	}

	/** Ends the VM's key lockouts for every address. */
	clearLockouts(vmId: string): void {
		this.parts.hosts.require();
		this.require(vmId);
		const addresses = this.parts.lockouts.clear(vmId);
		this.parts.audit.record("vm.lockouts_cleared", { vmId, detail: { addresses } });
	}

	/** Removes a VM: its placement is released, its sessions closed. */
	async remove(vmId: string): Promise<void> {
		const { hosts, table, sessions, audit } = this.parts;
		const host = hosts.require();
		this.require(vmId);
		const vm = this.parts.virtualMachine(vmId);
		await vm.releasePlacement(host.hostId);
		this.setHandoffMark(vmId, false);
		if (!table.delete(vmId)) return;
		this.parts.lockouts.clear(vmId);
		this.parts.queueHolder("withdraw", vmId);
		sessions.closeForVm(vmId, "vm_removed");
		await this.parts.carrier.closeHeldElsewhere(vmId, "vm_removed");
		audit.record("vm.removed", { vmId });
		await this.parts.storeRecordings();
		await this.parts.syncDirectory();
	}

	/** The SP table without keys or hashes. */
	list(): VmView[] {
		this.parts.hosts.require();
		return this.parts.table.list().map(toVmView);
	}

	/** Handoff: the row as stored and its jtis, marked as handing off; null when there is none. */
	export(vmId: string): VmHandoff | null {
		if (!this.parts.schemaReady()) return null;
		const row = this.parts.table.get(vmId);
		if (!row) return null;
		this.setHandoffMark(vmId, true);
		return {
			...row,
			seenJtis: this.parts.seenJtis.forVm(vmId),
			keyMismatches: this.parts.lockouts.forVm(vmId),
		};
	}

	/**
	 * Handoff: inserts the row as-is (same key hash and version); idempotent.
	 * Not announced: until the placement moves, the source still answers, so
	 * the domain learns the new holder from the placement once it moves.
	 */
	adopt({ seenJtis = [], keyMismatches = [], ...row }: VmHandoff): void {
		const { hosts, table, audit } = this.parts;
		hosts.require();
		// A replay of a request the source served stays refused here, and a lockout holds.
		this.parts.seenJtis.adopt(row.vmId, seenJtis);
		this.parts.lockouts.adopt(row.vmId, keyMismatches);
		// A VM coming back to a host it once left starts without the old handoff mark.
		this.setHandoffMark(row.vmId, false);
		if (table.insert(row)) {
			audit.record("vm.adopted", { vmId: row.vmId, detail: { keyVersion: row.keyVersion } });
		}
	}

	/**
	 * Handoff: deletes the row; its sessions are carried to `carryTo` (the
	 * VM's new host) or closed with `reason`. Idempotent.
	 */
	async release(vmId: string, reason: string, carryTo?: string): Promise<void> {
		const { table, sessions, audit } = this.parts;
		if (!this.parts.schemaReady()) return;
		if (carryTo) await this.parts.carrier.carryAll(vmId, carryTo);
		else {
			sessions.closeForVm(vmId, reason);
			await this.parts.carrier.closeHeldElsewhere(vmId, reason);
		}
		this.setHandoffMark(vmId, false);
		if (table.delete(vmId)) {
			this.parts.lockouts.clear(vmId);
			this.parts.queueHolder("withdraw", vmId);
			audit.record("vm.released", { vmId, detail: { reason } });
		}
		await this.parts.storeRecordings();
		await this.parts.syncDirectory();
	}
}
