import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { startWranglerDev, writeSecretsFile } from "../../scripts/wrangler-dev.mjs";

declare module "vitest" {
	export interface ProvidedContext {
		baseUrl: string;
		adminToken: string;
	}
}

/** Starts one real `wrangler dev` with fresh state and secrets for the e2e suite. */
export default async function setup(project: TestProject) {
	const workDir = await mkdtemp(join(tmpdir(), "edgevisor-e2e-"));
	const adminToken = `e2e-${crypto.randomUUID()}`;
	const envFile = await writeSecretsFile(workDir, adminToken);
	const server = await startWranglerDev({
		envFile,
		persistTo: join(workDir, "state"),
	});
	project.provide("baseUrl", server.baseUrl);
	project.provide("adminToken", adminToken);
	return async () => {
		await server.stop();
		await rm(workDir, { recursive: true, force: true });
	};
}
