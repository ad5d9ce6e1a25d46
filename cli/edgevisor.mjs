#!/usr/bin/env node
// @ts-check
// `edgevisor`: the user's and the operator's command line for the Edgevisor
// API (shared/API.md). See README "Tools: CLI, agent simulator, demo".
import { Command, CommanderError, Option } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { connect } from "./connect.mjs";
import { action } from "./context.mjs";
import { registerDeviceCommands } from "./device-commands.mjs";
import { registerFleetCommands } from "./fleet-commands.mjs";
import { registerMigrationCommands } from "./migration-commands.mjs";
import { exitCodes } from "./output.mjs";
import { registerSessionCommands } from "./session-commands.mjs";

const program = new Command("edgevisor")
	.description("Edgevisor: VM consoles, fleet, migrations and PCI functions from the shell.")
	// So an operator can tell which build is installed (npm run build:tools copies it anywhere).
	.version(packageJson.version, "-V, --version")
	.addOption(
		new Option("--url <url>", "Edgevisor base URL")
			.env("EDGEVISOR_URL")
			.default("http://localhost:8787"),
	)
	.addOption(new Option("--token <token>", "admin token").env("EDGEVISOR_TOKEN"))
	.option("--json", "print JSON for scripts instead of tables")
	.showHelpAfterError("(add --help for usage)")
	.addHelpText(
		"after",
		`
Exit codes: 0 ok, 1 unexpected error, 2 usage or invalid request, 3 unauthorized
or key mismatch, 4 not found, 5 conflict, 6 throttled or on hold (retry later),
7 server unreachable or failing, 8 the operation ran and failed (migration failed
or cancelled, a dry run that would fail validation, console closed by the server:
terminated, VM migrated, timed out).`,
	)
	.exitOverride();

program
	.command("connect")
	.description("open a VM's console: broadcast an encrypted request with the VM id and key")
	.requiredOption("--domain <domain>", "broadcast domain")
	.requiredOption("--vm <vmId>", "VM id")
	.requiredOption("--key-file <path>", "file holding the VM's key")
	.action(
		action(
			async ({ options }, /** @type {{domain: string, vm: string, keyFile: string}} */ args) =>
				connect({ baseUrl: options.url, json: options.json, ...args }),
			{ admin: false },
		),
	);
registerFleetCommands(program);
registerSessionCommands(program);
registerMigrationCommands(program);
registerDeviceCommands(program);

try {
	await program.parseAsync();
} catch (error) {
	if (!(error instanceof CommanderError)) throw error;
	// Asked-for help and version exit 0; every other parse failure is a usage error.
	process.exitCode = error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
}
