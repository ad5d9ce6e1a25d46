// @ts-check
// Admin commands for hosts, the VMs of each service-processor table and
// their keys. Console sessions are in session-commands.mjs.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline/promises";
import { Option } from "commander";
import { action, positiveInteger } from "./context.mjs";
import { writeKeyFile } from "./key-files.mjs";
import { formatMiB, print, printRecord, printTable, sortedBy, writeSecretFile } from "./output.mjs";

/** @typedef {import("./context.mjs").CommandContext} CommandContext */

/** Where `npm run dev` keeps the demo VMs' keys, relative to the clone. */
const demoKeysDir = join(".wrangler", "demo", "keys");

/**
 * The demo's key file of `vmId` if there is one here and the user, asked on a
 * terminal, wants the rotated key written there: otherwise the old file
 * would hold a dead key for good.
 * @param {CommandContext} context
 * @param {string} vmId
 * @returns {Promise<string | undefined>}
 */
async function offerDemoKeyFile({ json }, vmId) {
	const keyFile = join(demoKeysDir, `${vmId}.key`);
	if (json || !process.stdin.isTTY || !process.stdout.isTTY) return undefined;
	if (
		!(await readFile(keyFile).then(
			() => true,
			() => false,
		))
	)
		return undefined;
	const prompt = createInterface({ input: process.stdin, output: process.stdout });
	try {
		const answer = await prompt.question(
			`Write the new key to ${keyFile}, where the demo keeps ${vmId}'s key? [Y/n] `,
		);
		return /^n/i.test(answer.trim()) ? undefined : keyFile;
	} finally {
		prompt.close();
	}
}

/**
 * Prints a secret shown once: to a 0600 file when asked (written by `write`),
 * else to stdout with a reminder on stderr.
 * @param {CommandContext} context
 * @param {Record<string, unknown>} body the API answer carrying the secret
 * @param {string} secretField
 * @param {string | undefined} file
 * @param {(file: string) => Promise<void>} [write]
 */
async function deliverSecret(
	{ json },
	body,
	secretField,
	file,
	write = (path) => writeSecretFile(path, `${String(body[secretField])}\n`),
) {
	if (file) {
		await write(file);
		const { [secretField]: _secret, ...rest } = body;
		print(json, { ...rest, [`${secretField}File`]: file }, () => {
			printRecord(rest);
			console.log(`${secretField} written to ${file} (mode 0600)`);
		});
		return;
	}
	print(json, body, () => {
		printRecord(body);
		process.stderr.write("note: secrets are shown once; store them now\n");
	});
}

/** @param {import("commander").Command} program */
export function registerFleetCommands(program) {
	const hosts = program.command("hosts").description("hosts and their service processors");
	hosts
		.command("list")
		.description("list hosts, optionally of one broadcast domain")
		.option("--domain <domain>", "only this broadcast domain")
		.action(
			action(async ({ api, json }, /** @type {{domain?: string}} */ { domain }) => {
				const { body } = await api.GET("/v1/hosts", { params: { query: { domain } } });
				print(json, body, () =>
					printTable(
						sortedBy(body.hosts, "hostId").map((host) => ({
							...host,
							cpu: host.cpu?.model,
							memory: formatMiB(host.memoryMiB),
							hypervisor: host.hypervisor && `${host.hypervisor.name} ${host.hypervisor.version}`,
							agent: host.agentConnected ? "connected" : "disconnected",
						})),
						["hostId", "domain", "site", "cpu", "memory", "hypervisor", "agent"],
					),
				);
			}),
		);
	hosts
		.command("show <hostId>")
		.description("one host with its latest facts")
		.action(
			action(async ({ api, json }, /** @type {string} */ hostId) => {
				const { body } = await api.GET("/v1/hosts/{hostId}", { params: { path: { hostId } } });
				print(json, body, () => printRecord(body));
			}),
		);
	hosts
		.command("put <hostId>")
		.description("create or update a host; on creation its agent secrets are shown once")
		.requiredOption("--domain <domain>", "broadcast domain")
		.requiredOption("--site <site>", "site name")
		.requiredOption("--cpu-model <model>", "CPU model")
		.option("--cpu-flags <flags>", "comma-separated CPU flags", "")
		.requiredOption("--memory-mib <MiB>", "host memory", positiveInteger)
		.requiredOption("--hypervisor <name@version>", "e.g. qemu-kvm@9.2.0")
		.option("--secrets-file <path>", "write agentToken and webhookSecret there (0600)")
		.action(
			action(async (context, /** @type {string} */ hostId, /** @type {any} */ options) => {
				const [name = "", version = ""] = String(options.hypervisor).split("@");
				const { status, body } = await context.api.PUT("/v1/hosts/{hostId}", {
					params: { path: { hostId } },
					body: {
						domain: options.domain,
						site: options.site,
						cpu: { model: options.cpuModel, flags: options.cpuFlags.split(",").filter(Boolean) },
						memoryMiB: options.memoryMib,
						hypervisor: { name, version },
					},
				});
				if (status !== 201) return print(context.json, body, () => printRecord(body));
				if (!options.secretsFile) return deliverSecret(context, body, "webhookSecret", undefined);
				await writeSecretFile(options.secretsFile, `${JSON.stringify(body, null, 2)}\n`);
				print(context.json, { hostId, secretsFile: options.secretsFile }, () =>
					console.log(
						`host ${hostId} created; agent secrets written to ${options.secretsFile} (mode 0600)`,
					),
				);
			}),
		);

	const vms = program.command("vms").description("VMs in a host's service-processor table");
	const hostOption = () => new Option("--host <hostId>", "the VM's host").makeOptionMandatory();
	const vmParams = (/** @type {{host: string, vm: string}} */ options) => ({
		path: { hostId: options.host, vmId: options.vm },
	});
	vms
		.command("list")
		.description("the VMs a host's service processor holds (never keys)")
		.addOption(hostOption())
		.action(
			action(async ({ api, json }, /** @type {{host: string}} */ { host }) => {
				const { body } = await api.GET("/v1/hosts/{hostId}/vms", {
					params: { path: { hostId: host } },
				});
				print(json, body, () =>
					printTable(
						sortedBy(body.vms, "vmId").map((vm) => ({
							...vm,
							memory: formatMiB(vm.memoryMiB),
						})),
						["vmId", "keyVersion", "memory", "vcpus", "enrolledAt"],
					),
				);
			}),
		);
	vms
		.command("enrol")
		.alias("enroll")
		.description("enrol a VM on a host; its key is shown once (or written to --key-file)")
		.addOption(hostOption())
		.requiredOption("--vm <vmId>", "VM id")
		.requiredOption("--memory-mib <MiB>", "VM memory", positiveInteger)
		.requiredOption("--vcpus <count>", "virtual CPUs", positiveInteger)
		.option("--key-file <path>", "write the key there (0600) instead of printing it")
		.action(
			action(async (context, /** @type {any} */ options) => {
				const { status, body } = await context.api.PUT("/v1/hosts/{hostId}/vms/{vmId}", {
					params: vmParams(options),
					body: { memoryMiB: options.memoryMib, vcpus: options.vcpus },
				});
				if (status === 201) return deliverSecret(context, body, "key", options.keyFile);
				print(context.json, body, () => console.log(`${options.vm} updated on ${options.host}`));
			}),
		);
	vms
		.command("rotate-key")
		.description("issue a new key; the old one stops working and its sessions close")
		.addOption(hostOption())
		.requiredOption("--vm <vmId>", "VM id")
		.option(
			"--key-file <path>",
			"write the key there (0600) instead of printing it; without it, on a terminal, the CLI offers the demo's key file of the VM if there is one",
		)
		.action(
			action(async (context, /** @type {any} */ options) => {
				const { body } = await context.api.POST("/v1/hosts/{hostId}/vms/{vmId}/rotate-key", {
					params: vmParams(options),
				});
				const keyFile = options.keyFile ?? (await offerDemoKeyFile(context, options.vm));
				await deliverSecret(context, body, "key", keyFile, (path) =>
					writeKeyFile(path, { key: String(body.key), keyVersion: Number(body.keyVersion) }),
				);
			}),
		);
	vms
		.command("delete")
		.description("remove a VM from its host's table; its sessions close")
		.addOption(hostOption())
		.requiredOption("--vm <vmId>", "VM id")
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				await api.DELETE("/v1/hosts/{hostId}/vms/{vmId}", { params: vmParams(options) });
				print(json, { deleted: options.vm }, () => console.log(`${options.vm} deleted`));
			}),
		);
}
