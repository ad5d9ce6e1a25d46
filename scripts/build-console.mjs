// Builds the web console's browser bundle (web/src → dist/assets/console/),
// served as static assets under /console/. Run by wrangler itself before
// `wrangler dev`/`wrangler deploy` (wrangler.toml `[build] command`), so a
// fresh clone needs no extra step.
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

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
// Static assets bypass the Worker's middleware: their own safety headers.
await writeFile(
	fileURLToPath(new URL("../dist/assets/_headers", import.meta.url)),
	"/console/*\n  X-Content-Type-Options: nosniff\n  Cache-Control: no-cache\n",
);
