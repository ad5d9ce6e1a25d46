// The API reference's renderer (Scalar's standalone bundle) as a static asset
// on the Worker's origin, so /docs works without internet and runs only same-origin
// script. The one file is taken from the npm tarball of a pinned version and
// checked against its pinned Subresource Integrity hash; installing the
// package instead would pull ~480 packages for that file. The tarball is
// fetched once (from the npm registry, like `npm install`) and the file kept
// under node_modules/.cache; without it (offline, never fetched) the asset is
// a stub that says so and points at /openapi.json, and the build goes on.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * The pinned renderer and the hash its file must have (the npm tarball's,
 * which jsDelivr also serves). The page loads it as /docs/scalar.js; being
 * same-origin and checked here, it needs no integrity attribute (which would
 * also refuse the stub below).
 */
const scalar = {
	version: "1.76.0",
	integrity: "sha384-oH1C0RwqcwbVXkC+r8A+4qRoyEUQdtxAzOwumkxZtQBBcsy61FOoPt7B50OVJYYQ",
};

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const cacheFile = join(
	projectRoot,
	"node_modules/.cache/edgevisor",
	`scalar-api-reference-${scalar.version}.js`,
);
const run = promisify(execFile);

/** The SRI value of `bytes` (sha384, base64). */
function integrityOf(bytes) {
	return `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
}

/** Fetches the pinned tarball into a temporary folder and returns its standalone bundle. */
async function fetchBundle() {
	const workDir = await mkdtemp(join(tmpdir(), "edgevisor-scalar-"));
	try {
		const spec = `@scalar/api-reference@${scalar.version}`;
		const { stdout } = await run("npm", ["pack", spec, "--silent", "--pack-destination", workDir], {
			cwd: workDir,
		});
		const tarball = join(workDir, stdout.trim().split("\n").at(-1) ?? "");
		const inside = "package/dist/browser/standalone.js";
		await run("tar", ["-xzf", tarball, "-C", workDir, inside]);
		return await readFile(join(workDir, inside));
	} finally {
		await rm(workDir, { recursive: true, force: true });
	}
}

/** The pinned bundle from the cache, fetched into it first if needed; undefined when it cannot be had. */
async function pinnedBundle(log) {
	const cached = await readFile(cacheFile).catch(() => undefined);
	if (cached && integrityOf(cached) === scalar.integrity) return cached;
	try {
		const fetched = await fetchBundle();
		if (integrityOf(fetched) !== scalar.integrity) {
			log(`API reference: the npm tarball's bundle does not match its pinned hash; not used`);
			return undefined;
		}
		// Written aside and renamed: two builds at once never see half a file.
		await mkdir(join(cacheFile, ".."), { recursive: true });
		const partial = `${cacheFile}.${process.pid}`;
		await writeFile(partial, fetched);
		await rename(partial, cacheFile);
		return fetched;
	} catch (error) {
		log(`API reference: cannot fetch ${scalar.version} (${String(error).split("\n")[0]})`);
		return undefined;
	}
}

/** What /docs runs when the renderer could not be had: a note, and the document itself. */
const stub = `document.getElementById("app").innerHTML =
  '<p style="font: 16px sans-serif; margin: 2em">The API reference renderer was not available when this server was built (no npm registry). The OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</p>';
window.Scalar = { createApiReference() {} };
`;

/**
 * Writes the renderer and the page's start script under `assetsDir`/docs/.
 * @param {string} assetsDir
 * @param {(line: string) => void} [log]
 */
export async function buildDocsAssets(assetsDir, log = console.warn) {
	const docsDir = join(assetsDir, "docs");
	await mkdir(docsDir, { recursive: true });
	await writeFile(join(docsDir, "scalar.js"), (await pinnedBundle(log)) ?? stub);
	// The page's own script, a file so the page's CSP needs no inline script;
	// the system fonts, as the default ones come from Scalar's servers.
	await writeFile(
		join(docsDir, "start.js"),
		'Scalar.createApiReference("#app", { url: "/openapi.json", withDefaultFonts: false });\n',
	);
}
