// Lints the OpenAPI document the Worker serves (GET /openapi.json under
// wrangler dev) with Redocly's recommended rules: no error and no warning,
// except the rules turned off below for reasons the document cannot
// change. Generators and validators read this document; the routes' own
// contract tests are in test/integration/openapi.test.ts.
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { describe, expect, inject, it } from "vitest";

const baseUrl = inject("baseUrl");

describe("the OpenAPI document", () => {
	it("lints clean with Redocly's recommended rules", async () => {
		const config = await createConfig({
			extends: ["recommended"],
			rules: {
				// WebSocket upgrades answer 101, never a 2xx.
				"operation-2xx-response": "off",
				// AgentCommand and AgentAck describe the agent channel's messages, which
				// travel inside a WebSocket: published for agents, used by no operation.
				"no-unused-components": "off",
				// The project has chosen no licence yet; the document will name it when it does.
				"info-license": "off",
			},
		});
		const source = await (await fetch(`${baseUrl}/openapi.json`)).text();
		const problems = await lintFromString({ source, absoluteRef: "openapi.json", config });
		const described = problems.map(
			(problem) =>
				`${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`,
		);
		expect(described).toEqual([]);
	});
});
