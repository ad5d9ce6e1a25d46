import type { MigrationPolicy } from "../../shared/schemas/migrations";

/** A policy that always runs one agent subtask with a 1 s timeout (timeout tests). */
export const probeWithin1s: MigrationPolicy = {
	rules: [{ id: "always", score: "100", threshold: 50, validationSet: "probe" }],
	validationSets: [{ id: "probe", subtasks: [{ id: "ping", kind: "agent", timeoutSeconds: 1 }] }],
};
