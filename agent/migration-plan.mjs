// @ts-check
// How a simulated live migration unfolds: iterative pre-copy rounds (each
// re-sends the memory the guest dirtied during the previous round) until the
// remainder is small enough for a short stop-and-copy pause. Pure functions.

/**
 * @typedef {object} MigrationStep
 * @property {"pre-copy" | "stop-and-copy"} phase
 * @property {number} round 1-based pre-copy round; the stop-and-copy step follows the last
 * @property {number} copiedMiB memory sent in this step
 * @property {number} durationMs simulated wall time of this step
 * @property {number} percent overall progress once this step is done, 0–100
 */

/**
 * @typedef {object} MigrationPlanOptions
 * @property {number} memoryMiB guest memory
 * @property {number} [bandwidthMiBps] migration link throughput (default ~10 GbE)
 * @property {number} [dirtyRateMiBps] how fast the guest dirties memory
 * @property {number} [stopCopyThresholdMiB] remainder small enough to pause the guest for
 * @property {number} [maxRounds] pre-copy rounds before forcing stop-and-copy
 */

/**
 * Plans the rounds of a pre-copy migration. The dirty rate defaults to 5 % of
 * memory per second, capped at 250 MiB/s, so big busy guests need more rounds.
 * @param {MigrationPlanOptions} options
 * @returns {MigrationStep[]}
 */
export function planMigration({
	memoryMiB,
	bandwidthMiBps = 1100,
	dirtyRateMiBps = Math.min(250, memoryMiB * 0.05),
	stopCopyThresholdMiB = 64,
	maxRounds = 30,
}) {
	/** @type {Omit<MigrationStep, "percent">[]} */
	const steps = [];
	let remainingMiB = memoryMiB;
	for (let round = 1; round <= maxRounds; round += 1) {
		const durationMs = (remainingMiB / bandwidthMiBps) * 1000;
		steps.push({ phase: "pre-copy", round, copiedMiB: remainingMiB, durationMs });
		const dirtiedMiB = Math.min(memoryMiB, (durationMs / 1000) * dirtyRateMiBps);
		// Not converging (dirtying as fast as we copy): stop trying, pause now.
		const converging = dirtiedMiB < remainingMiB;
		remainingMiB = dirtiedMiB;
		if (remainingMiB <= stopCopyThresholdMiB || !converging) break;
	}
	steps.push({
		phase: "stop-and-copy",
		round: steps.length + 1,
		copiedMiB: remainingMiB,
		durationMs: (remainingMiB / bandwidthMiBps) * 1000,
	});
	const totalMiB = steps.reduce((sum, step) => sum + step.copiedMiB, 0);
	let sentMiB = 0;
	return steps.map((step) => {
		sentMiB += step.copiedMiB;
		return { ...step, percent: totalMiB === 0 ? 100 : Math.floor((sentMiB / totalMiB) * 100) };
	});
}
