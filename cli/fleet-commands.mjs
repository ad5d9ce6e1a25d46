// @ts-check
// Admin commands for hosts, the VMs of each service-processor table and
// their keys. Console sessions are in session-commands.mjs.
import { Option } from "commander";
import { segment } from "./api.mjs";
import { action, positiveInteger } from "./context.mjs";
import { formatMiB, print, printRecord, printTable, sortedBy, writeSecretFile } from "./output.mjs";

/** @typedef {import("./context.mjs").CommandContext} CommandContext */

/**
 * Prints a secret shown once: to a 0600 file when asked, else to stdout
 * with a reminder on stderr.
 * @param {CommandContext} context
 * @param {Record<string, unknown>} body the API answer carrying the secret
 * @param {string} secretField
 * @param {string | undefined} file
 */
async function deliverSecret({ json }, body, secretField, file) {
	if (file) {
		await writeSecretFile(file, `${String(body[secretField])}\n`);
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
				const query = domain ? `?domain=${encodeURIComponent(domain)}` : "";
				const { body } = await api.request("GET", `/v1/hosts${query}`);
				print(json, body, () =>
					printTable(
						sortedBy(body.hosts, "hostId").map((/** @type {any} */ host) => ({
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
				const { body } = await api.request("GET", `/v1/hosts/${segment(hostId)}`);
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
				const { status, body } = await context.api.request("PUT", `/v1/hosts/${segment(hostId)}`, {
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
	const vmPath = (/** @type {{host: string, vm: string}} */ options) =>
		`/v1/hosts/${segment(options.host)}/vms/${segment(options.vm)}`;
	vms
		.command("list")
		.description("the VMs a host's service processor holds (never keys)")
		.addOption(hostOption())
		.action(
			action(async ({ api, json }, /** @type {{host: string}} */ { host }) => {
				const { body } = await api.request("GET", `/v1/hosts/${segment(host)}/vms`);
				print(json, body, () =>
					printTable(
						sortedBy(body.vms, "vmId").map((/** @type {any} */ vm) => ({
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
				const { status, body } = await context.api.request("PUT", vmPath(options), {
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
		.option("--key-file <path>", "write the key there (0600) instead of printing it")
		.action(
			action(async (context, /** @type {any} */ options) => {
				const { body } = await context.api.request("POST", `${vmPath(options)}/rotate-key`);
				await deliverSecret(context, body, "key", options.keyFile);
			}),
		);
	vms
		.command("delete")
		.description("remove a VM from its host's table; its sessions close")
		.addOption(hostOption())
		.requiredOption("--vm <vmId>", "VM id")
		.action(
			action(async ({ api, json }, /** @type {any} */ options) => {
				await api.request("DELETE", vmPath(options));
				print(json, { deleted: options.vm }, () => console.log(`${options.vm} deleted`));
			}),
		);
}
