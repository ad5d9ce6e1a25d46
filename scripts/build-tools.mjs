// Builds the `edgevisor` CLI and the `edgevisor-agent` host agent into a package
// that installs anywhere: dist/edgevisor-tools-<version>.tgz, for
// `npm install -g ./dist/edgevisor-tools-<version>.tgz`. The sources can't be
// installed as they are: they import shared/*.ts through Node's type stripping,
// which Node refuses under node_modules and which needs a newer Node than many
// hosts have. The bundle is plain JavaScript with every dependency inside, so it
// needs Node 20 or newer and nothing else (no registry access on install).
import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const distDir = join(projectRoot, "dist");
const toolsDir = join(distDir, "tools");
const { version, description } = JSON.parse(
	await readFile(join(projectRoot, "package.json"), "utf8"),
);
// The oldest Node the bundle is built for and tested on. (commander's engines say
// 22.12, for require() of its ES modules, which a bundle never does.)
const minimumNode = 20;

await rm(toolsDir, { recursive: true, force: true });
await mkdir(toolsDir, { recursive: true });
// One self-contained file per tool; esbuild keeps the entry points' `#!/usr/bin/env node`.
const { metafile } = await build({
	absWorkingDir: projectRoot,
	entryPoints: { edgevisor: "cli/edgevisor.mjs", "edgevisor-agent": "agent/edgevisor-agent.mjs" },
	outdir: toolsDir,
	outExtension: { ".js": ".mjs" },
	bundle: true,
	platform: "node",
	format: "esm",
	target: `node${minimumNode}`,
	banner: {
		js: [
			// CommonJS dependencies (ws, cli-progress…) call `require` for Node's
			// built-ins, which an ES module lacks.
			"import { createRequire } from 'node:module';",
			"const require = createRequire(import.meta.url);",
			// First, so an older Node says so in one line instead of failing somewhere inside.
			`if (Number(process.versions.node.split('.')[0]) < ${minimumNode}) {`,
			`  console.error(\`The Edgevisor tools need Node ${minimumNode} or newer; this is \${process.version}\`);`,
			"  process.exit(1);",
			"}",
		].join("\n"),
	},
	// ws's optional native speed-ups: it tries to load them and does without.
	external: ["bufferutil", "utf-8-validate"],
	metafile: true,
	logLevel: "warning",
});

await writeFile(
	join(toolsDir, "package.json"),
	`${JSON.stringify(
		{
			name: "edgevisor-tools",
			version,
			description: `${description}: the edgevisor CLI and the edgevisor-agent host agent`,
			// Built for operators from a clone, never published to a registry.
			private: true,
			bin: { edgevisor: "edgevisor.mjs", "edgevisor-agent": "edgevisor-agent.mjs" },
			engines: { node: `>=${minimumNode}` },
		},
		null,
		"\t",
	)}\n`,
);
await writeFile(join(toolsDir, "THIRD_PARTY_LICENSES.md"), await thirdPartyLicenses(metafile));

execFileSync("npm", ["pack", "--pack-destination", distDir, "--silent"], {
	cwd: toolsDir,
	stdio: ["ignore", "ignore", "inherit"],
});
console.log(`dist/edgevisor-tools-${version}.tgz`);

/**
 * The notices of the packages bundled into the tools (their licenses ask that
 * copies carry them): name, version, license and the package's license file.
 * @param {import("esbuild").Metafile} bundled
 */
async function thirdPartyLicenses(bundled) {
	const packageDirs = new Set();
	for (const input of Object.keys(bundled.inputs)) {
		// The innermost node_modules/<name> or node_modules/@scope/<name>.
		const match = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
		if (match?.[1]) packageDirs.add(join(projectRoot, match[1]));
	}
	const sections = [];
	for (const dir of [...packageDirs].sort()) {
		const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
		const licenseFile = (await readdir(dir)).find((name) => /^(licen[cs]e|copying)/i.test(name));
		const heading = `## ${manifest.name} ${manifest.version} (${manifest.license})\n`;
		const text = licenseFile
			? `\n${(await readFile(join(dir, licenseFile), "utf8")).trim()}\n`
			: "";
		sections.push(heading + text);
	}
	return `# Third-party software bundled into edgevisor-tools\n\n${sections.join("\n")}`;
}
