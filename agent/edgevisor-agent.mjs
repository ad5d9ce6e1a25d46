#!/usr/bin/env node
// @ts-check
// `edgevisor-agent`: the host agent. `edgevisor-agent qemu …` runs the agent
// of a real QEMU host; without a subcommand it runs the simulator for the
// hosts of a fleet file. Both run until interrupted. See the README.
import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { readHostFile, startQemuAgent } from "./qemu-agent.mjs";
import { describeEvent, readFleetFile, startSimulator } from "./simulator.mjs";

const rate = (/** @type {string} */ value) => {
	const number = Number(value);
	if (!(number >= 0 && number <= 1))
		throw new InvalidArgumentError("expected a number from 0 to 1");
	return number;
};
const positive = (/** @type {string} */ value) => {
	const number = Number(value);
	if (!(number > 0)) throw new InvalidArgumentError("expected a positive number");
	return number;
};
const range = (/** @type {string} */ value) => {
	const match = value.match(/^(\d+)(?:-(\d+))?$/);
	if (!match) throw new InvalidArgumentError('expected milliseconds, e.g. "500" or "200-1500"');
	const min = Number(match[1]);
	const max = Number(match[2] ?? match[1]);
	if (max < min) throw new InvalidArgumentError("the range's end is below its start");
	return [min, max];
};

const program = new Command("edgevisor-agent").version(packageJson.version, "-V, --version");

program
	.command("qemu")
	.description("Run the host agent of a QEMU host: its VMs, consoles, checks and live migrations.")
	.requiredOption("--url <url>", "Edgevisor base URL (the agent dials nothing else)")
	.requiredOption(
		"--host-file <path>",
		"the host's JSON from 'edgevisor hosts put --secrets-file' (mode 0600)",
	)
	.requiredOption("--vms-dir <dir>", "desired state: one <vmId>.json per VM that runs here")
	.option("--checks-dir <dir>", "operator checks: an executable per subtask id")
	.option("--migration-address <host[:port]>", "where incoming migrations listen", "127.0.0.1")
	.option(
		"--migration-bandwidth <MiB/s>",
		"cap on the bandwidth of outgoing migrations (QEMU's default: 128)",
		positive,
	)
	.option(
		"--state-dir <dir>",
		"pid, QMP and serial sockets of the VMs (default /var/lib/edgevisor-agent/<hostId> as root)",
	)
	.option("--qemu <binary>", "the QEMU system emulator", "qemu-system-x86_64")
	.option(
		"--shutdown-timeout <seconds>",
		"a stopped VM's time to power down before it is ended",
		positive,
		30,
	)
	.option("--quiet", "log only errors")
	.action(async (options) => {
		const log = (/** @type {{type: string, [field: string]: any}} */ event) => {
			const line = describeEvent(event);
			const isError = /error|refused|FAILED|did not|cannot|not started/.test(line ?? "");
			if (line && (isError || !options.quiet)) (isError ? console.error : console.log)(line);
		};
		let running;
		try {
			running = await startQemuAgent(options, log);
		} catch (error) {
			console.error(`edgevisor-agent: ${error instanceof Error ? error.message : error}`);
			process.exit(2);
		}
		console.log(
			`agent of ${running.hostId} (QEMU ${running.runtime.version}, ${running.runtime.accel}) against ${options.url}; VMs from ${running.vmsDir}, state in ${running.stateDir}; Ctrl-C stops the agent, not the VMs`,
		);
		for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
			process.once(signal, () => {
				void running.agent.stop().finally(() => process.exit(0));
			});
		}
	});

program
	.command("simulate", { isDefault: true })
	.description("Simulate the hypervisor agents of a fleet: control channel, consoles, webhooks.")
	.addOption(
		new Option("--url <url>", "Edgevisor base URL")
			.env("EDGEVISOR_URL")
			.default("http://localhost:8787"),
	)
	.requiredOption(
		"--hosts-file <path>",
		'fleet file {"hosts": [{hostId, agentToken, webhookSecret, facts?}], "vms"?: [{vmId, memoryMiB, vcpus}]}, or one host\'s file from \'edgevisor hosts put --secrets-file\' (mode 0600)',
	)
	.option("--validation-failure-rate <0..1>", "share of validation subtasks that fail", rate, 0)
	.option(
		"--validation-latency-ms <min-max>",
		"time a validation subtask takes",
		range,
		[200, 1500],
	)
	.option("--migration-failure-rate <0..1>", "share of migrations that fail mid-copy", rate, 0)
	.option("--time-scale <factor>", "real time per simulated migration second", positive, 0.25)
	.option("--quiet", "log only errors")
	.action(simulate);

program.showHelpAfterError();
await program.parseAsync();

/**
 * The simulator's hosts: a fleet file, or the one host that `edgevisor hosts
 * put --secrets-file` writes (`{hostId, domain, agentToken, webhookSecret}`),
 * read as `qemu --host-file` reads it, so it too must be mode 0600.
 * @param {string} path
 * @returns {Promise<import("./simulator.mjs").FleetFile>}
 */
async function readHostsFile(path) {
	const parsed = JSON.parse(await readFile(path, "utf8"));
	if (typeof parsed?.hostId === "string") return { hosts: [await readHostFile(path)] };
	return readFleetFile(path);
}

/** @param {Record<string, any>} options */
async function simulate(options) {
	let fleet;
	try {
		fleet = await readHostsFile(options.hostsFile);
	} catch (error) {
		console.error(`edgevisor-agent: ${error instanceof Error ? error.message : error}`);
		process.exit(2);
	}
	const simulator = startSimulator({
		baseUrl: options.url,
		hosts: fleet.hosts,
		vms: fleet.vms,
		behaviour: {
			validationFailureRate: options.validationFailureRate,
			validationLatencyMs: options.validationLatencyMs,
			migrationFailureRate: options.migrationFailureRate,
			migrationTimeScale: options.timeScale,
		},
	});
	simulator.events.on("event", (event) => {
		const line = describeEvent(event);
		const isError = /error|refused|FAILED/.test(line ?? "");
		if (line && (isError || !options.quiet)) (isError ? console.error : console.log)(line);
	});
	console.log(
		`simulating ${fleet.hosts.length} host agent(s) against ${options.url}; Ctrl-C stops`,
	);
	for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
		process.once(signal, () => {
			simulator.stop();
			process.exit(0);
		});
	}
}
