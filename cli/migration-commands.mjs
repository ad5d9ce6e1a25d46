// @ts-check
// `edgevisor migrate` (with the risk table and a live progress bar) and the
// `migrations` and `policy` admin commands.
import { readFile } from "node:fs/promises";
import cliProgress from "cli-progress";
import { action } from "./context.mjs";
import { followMigration, percentOf, phaseOf, terminalStates } from "./migration-events.mjs";
import {
	dryRunVerdict,
	exitCodeOf,
	outcomeLine,
	printRiskTable,
	printRules,
	printValidation,
} from "./migration-report.mjs";
import { CliError, exitCodes, print, printRecord, printTable } from "./output.mjs";

/** A progress display on stderr: a bar on a terminal, state-change lines otherwise. */
function createProgressDisplay(/** @type {string} */ label) {
	if (!process.stderr.isTTY) {
		let previous = "";
		return {
			update(/** @type {any} */ record) {
				const line = `${record.state} ${percentOf(record)}% ${phaseOf(record)}`.trim();
				if (line !== previous) process.stderr.write(`${label}: ${line}\n`);
				previous = line;
			},
			stop() {},
		};
	}
	const bar = new cliProgress.SingleBar(
		{
			format: `${label} [{bar}] {percentage}% | {state} {phase}`,
			hideCursor: true,
			clearOnComplete: false,
		},
		cliProgress.Presets.shades_classic,
	);
	bar.start(100, 0, { state: "validating", phase: "" });
	return {
		update(/** @type {any} */ record) {
			bar.update(percentOf(record), { state: record.state, phase: phaseOf(record) });
		},
		stop() {
			bar.stop();
		},
	};
}

/**
 * Follows a migration with a progress display, prints how it ended (the
 * validation sets in their final states, then one line) and returns the
 * exit code: 0 only when it completed.
 * @param {import("./api.mjs").ApiClient} api
 * @param {string} migrationId
 * @param {{label: string, json: boolean}} options
 */
async function followToEnd(api, migrationId, { label, json }) {
	const display = createProgressDisplay(label);
	let final;
	try {
		final = await followMigration(api, migrationId, (record) => display.update(record));
	} finally {
		display.stop();
	}
	print(json, final, () => {
		printValidation(final);
		console.log(outcomeLine(final));
	});
	return exitCodeOf(final);
}

/** What `--no-wait` says of a new migration: how it ended already, or how to follow it. */
function acceptedLine(/** @type {any} */ migration) {
	if (terminalStates.has(migration.state)) return outcomeLine(migration);
	const { migrationId, state } = migration;
	return `migration ${migrationId} accepted, now ${state}; follow it with: edgevisor migrations watch ${migrationId}`;
}

/** @param {import("commander").Command} program */
export function registerMigrationCommands(program) {
	program
		.command("migrate")
		.description("live-migrate a VM: shows the risk assessment, then follows it to the end")
		.requiredOption("--vm <vmId>", "the VM to move")
		.requiredOption("--to <hostId>", "target host")
		.option(
			"--dry-run",
			"assess only: print the risk table and whether it would start (exit 8 if not); store and send nothing",
		)
		.option("--no-wait", "return once the migration is accepted (exit 8 if it already failed)")
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				const { body: migration } = await api.POST("/v1/migrations", {
					body: { vmId: options.vm, targetHostId: options.to, dryRun: options.dryRun === true },
				});
				const route = `${migration.vmId} ${migration.sourceHostId} → ${migration.targetHostId}`;
				if (options.dryRun || !options.wait) {
					print(json, migration, () => {
						console.log(
							options.dryRun ? `dry run: ${route}` : `migration ${migration.migrationId}: ${route}`,
						);
						printRiskTable(migration);
						console.log(options.dryRun ? dryRunVerdict(migration) : acceptedLine(migration));
					});
					// A preview that fails validation exits as the real run would.
					return exitCodeOf(migration);
				}
				if (!json) {
					console.log(`migration ${migration.migrationId}: ${route}`);
					// The sets' states change while it runs: they are printed once it ends.
					printRules(migration);
					console.log("");
				}
				return followToEnd(api, migration.migrationId, { label: migration.vmId, json });
			}),
		);

	const migrations = program.command("migrations").description("migration records");
	migrations
		.command("list")
		.description("a VM's migrations, newest first")
		.requiredOption("--vm <vmId>", "VM id")
		.action(
			action(async ({ api, json }, /** @type {{vm: string}} */ { vm }) => {
				const { body } = await api.GET("/v1/vms/{vmId}/migrations", {
					params: { path: { vmId: vm } },
				});
				print(json, body, () =>
					printTable(
						body.migrations.map((record) => ({
							...record,
							progress: `${percentOf(record)}%`,
						})),
						["migrationId", "sourceHostId", "targetHostId", "state", "progress", "createdAt"],
					),
				);
			}),
		);
	migrations
		.command("show <migrationId>")
		.description("one migration with its risk table")
		.action(
			action(async ({ api, json }, /** @type {string} */ migrationId) => {
				const { body } = await api.GET("/v1/migrations/{migrationId}", {
					params: { path: { migrationId } },
				});
				print(json, body, () => {
					const { assessment: _assessment, validationSets: _sets, ...summary } = body;
					printRecord(summary);
					console.log("");
					printRiskTable(body);
				});
			}),
		);
	migrations
		.command("watch <migrationId>")
		.description("follow a migration's progress until it ends")
		.action(
			action(async ({ api, json }, /** @type {string} */ migrationId) => {
				return followToEnd(api, migrationId, { label: migrationId, json });
			}),
		);
	migrations
		.command("cancel <migrationId>")
		.description("cancel a migration that has not finished")
		.action(
			action(async ({ api, json }, /** @type {string} */ migrationId) => {
				const { body } = await api.POST("/v1/migrations/{migrationId}/cancel", {
					params: { path: { migrationId } },
				});
				print(json, body, () => console.log(`migration ${migrationId} ${body.state}`));
			}),
		);

	const policy = program.command("policy").description("the migration risk policy");
	policy
		.command("show")
		.description("the rules and validation sets in force")
		.action(
			action(async ({ api, json }) => {
				const { body } = await api.GET("/v1/migration-policy");
				print(json, body, () => {
					// CEL scores and descriptions are long: they wrap so each line fits the terminal.
					printTable(body.rules, ["id", "threshold", "validationSet", "score"], {
						wrap: ["score"],
					});
					console.log("");
					printTable(
						body.validationSets.map((set) => ({
							...set,
							subtasks: set.subtasks.map((subtask) => `${subtask.id}(${subtask.kind})`).join(" "),
						})),
						["id", "subtasks", "description"],
						{ wrap: ["subtasks", "description"] },
					);
				});
			}),
		);
	policy
		.command("set <file>")
		.description("replace the policy with a JSON file")
		.action(
			action(async ({ api, json }, /** @type {string} */ file) => {
				let policyDocument;
				try {
					policyDocument = JSON.parse(await readFile(file, "utf8"));
				} catch (error) {
					throw new CliError(
						`cannot read ${file} as JSON: ${error instanceof Error ? error.message : error}`,
						exitCodes.usage,
					);
				}
				const { body } = await api.PUT("/v1/migration-policy", { body: policyDocument });
				print(json, body, () =>
					console.log(
						`policy in force: ${body.rules.length} rules, ${body.validationSets.length} validation sets`,
					),
				);
			}),
		);
}
