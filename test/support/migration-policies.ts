import type { MigrationPolicy } from "../../shared/schemas/migrations";

/** A policy that always runs one agent subtask (probe/ping) with the given timeout (timeout tests). */
export function probeWithin(timeoutSeconds: number): MigrationPolicy {
	return {
		rules: [{ id: "always", score: "100", threshold: 50, validationSet: "probe" }],
		validationSets: [{ id: "probe", subtasks: [{ id: "ping", kind: "agent", timeoutSeconds }] }],
	};
}

/** The probe policy with a 1 s timeout, for tests that must wait on a real clock. */
export const probeWithin1s: MigrationPolicy = probeWithin(1);
