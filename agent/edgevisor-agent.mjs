#!/usr/bin/env node
// @ts-check
// `edgevisor-agent`: runs the hypervisor-agent simulator for the hosts of a
// fleet file until interrupted. See README "Tools: CLI, agent simulator, demo".
import { Command, InvalidArgumentError, Option } from "commander";
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

const program = new Command("edgevisor-agent")
	.description("Simulate the hypervisor agents of a fleet: control channel, consoles, webhooks.")
	.addOption(
		new Option("--url <url>", "Edgevisor base URL")
			.env("EDGEVISOR_URL")
			.default("http://localhost:8787"),
	)
	.requiredOption(
		"--hosts-file <path>",
		'fleet file: {"hosts": [{hostId, agentToken, webhookSecret, facts?}], "vms"?: [{vmId, memoryMiB, vcpus}]}',
	)
	.option("--validation-failure-rate <0..1>", "share of validation subtasks that fail", rate, 0)
	.option(
		"--validation-latency-ms <min-max>",
		"time a validation subtask takes",
		range,
		[200, 1500],
	)
	.option("--migration-failure-rate <0..1>", "share of migrations that fail mid-copy", rate, 0)
	.option("--ack-loss-rate <0..1>", "share of acks to drop, to exercise redelivery", rate, 0)
	.option("--time-scale <factor>", "real time per simulated migration second", positive, 0.25)
	.option("--quiet", "log only errors")
	.showHelpAfterError();

program.parse();
const options = program.opts();

let fleet;
try {
	fleet = await readFleetFile(options.hostsFile);
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
		ackLossRate: options.ackLossRate,
	},
});
simulator.events.on("event", (event) => {
	const line = describeEvent(event);
	const isError = /error|refused|FAILED/.test(line ?? "");
	if (line && (isError || !options.quiet)) (isError ? console.error : console.log)(line);
});
console.log(`simulating ${fleet.hosts.length} host agent(s) against ${options.url}; Ctrl-C stops`);
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
	process.once(signal, () => {
		simulator.stop();
		process.exit(0);
	});
}
