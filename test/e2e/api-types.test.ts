// Proves the committed shared/api/openapi-types.ts, which the CLI's and the
// console's typed client are checked against, is what `npm run api-types`
// makes of the document the Worker serves now: a contract change that was
// not regenerated fails here, not in a user's hands. Whether the call sites
// fit the types is `npm run typecheck`'s job, not this file's.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
// @ts-expect-error plain ESM script shared with `npm run api-types`
import { apiTypesPath, fetchOpenApiDocument, generateApiTypes } from "../../scripts/api-types.mjs";

const baseUrl = inject("baseUrl");
const projectRoot = join(import.meta.dirname, "../..");

describe("the generated API types", () => {
	it("match the document the Worker serves", async () => {
		const generated: string = await generateApiTypes(await fetchOpenApiDocument(baseUrl));
		const committed = await readFile(join(projectRoot, apiTypesPath), "utf8");
		expect(
			committed,
			`${apiTypesPath} is stale: the API contract changed; run \`npm run api-types\` and commit the result`,
		).toBe(generated);
	});
});
