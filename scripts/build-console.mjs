// Builds the web console's browser bundle (web/src → dist/assets/console/),
// served as static assets under /console/, and the API reference's renderer
// (dist/assets/docs/, see build-docs.mjs). Run by wrangler itself before
// `wrangler dev`/`wrangler deploy` (wrangler.toml `[build] command`), so a
// fresh clone needs no extra step.
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildDocsAssets } from "./build-docs.mjs";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const outDir = fileURLToPath(new URL("../dist/assets/console/", import.meta.url));

// Bundles web/src/main.ts (xterm.js, jose and the console) into app.js and app.css.
await mkdir(outDir, { recursive: true });
await build({
	absWorkingDir: projectRoot,
	entryPoints: { app: "web/src/main.ts" },
	outdir: outDir,
	bundle: true,
	format: "esm",
	platform: "browser",
	target: "es2022",
	minify: true,
	legalComments: "linked",
	logLevel: "warning",
});
// The API reference's renderer and start script, under /docs/.
await buildDocsAssets(fileURLToPath(new URL("../dist/assets/", import.meta.url)));
// Static assets bypass the Worker's middleware: their own safety headers.
const assetHeaders = "  X-Content-Type-Options: nosniff\n  Cache-Control: no-cache\n";
await writeFile(
	fileURLToPath(new URL("../dist/assets/_headers", import.meta.url)),
	`/console/*\n${assetHeaders}/docs/*\n${assetHeaders}`,
);
