import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig, type ViteUserConfig } from "vitest/config";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { generateJweKeySet } from "./scripts/jwe-keys.mjs";

/** Secrets the tests run with; two JWE keys so kid-based rotation is exercised. */
export const testAdminToken = "test-admin-token";

export default defineConfig(async (): Promise<ViteUserConfig> => {
	const jwePrivateKeys: string = await generateJweKeySet(2);
	return {
		test: {
			// Request logs are shown only for failing tests.
			silent: "passed-only",
			reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
			projects: [
				{
					plugins: [
						cloudflareTest({
							wrangler: { configPath: "./wrangler.toml" },
							miniflare: {
								bindings: {
									ADMIN_TOKEN: testAdminToken,
									JWE_PRIVATE_KEYS: jwePrivateKeys,
									PUBLIC_ORIGIN: "https://edgevisor.test",
								},
								// The Worker of the static bundles (wrangler.static.toml, behind the
								// STATIC binding) is not under test here: a stand-in that names
								// what it was asked (test/integration/static-bundles.test.ts).
								workers: [
									{
										name: "edgevisor-static",
										compatibilityDate: "2026-11-01",
										modules: true,
										script:
											"export default { fetch: (request) => new Response('static bundles: ' + request.method + ' ' + new URL(request.url).pathname) };",
									},
								],
							},
						}),
					],
					test: {
						name: "workers",
						include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
						testTimeout: 20_000,
					},
				},
				{
					test: {
						name: "e2e",
						environment: "node",
						include: ["test/e2e/**/*.test.ts"],
						globalSetup: ["test/e2e/global-setup.ts"],
						testTimeout: 60_000,
						hookTimeout: 120_000,
						fileParallelism: false,
					},
				},
				{
					test: {
						name: "browser",
						environment: "node",
						include: ["test/browser/**/*.test.ts"],
						globalSetup: ["test/browser/global-setup.ts"],
						testTimeout: 60_000,
						hookTimeout: 120_000,
						fileParallelism: false,
						// After the other projects: Chromium and a second wrangler dev on 2 shared cores.
						sequence: { groupOrder: 1 },
					},
				},
			],
		},
	};
});
