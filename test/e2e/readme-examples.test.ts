// The README's curl examples, run as a reader pastes them: in order, into one bash
// (-euo pipefail) at the repository's root, with EDGEVISOR_URL and EDGEVISOR_TOKEN
// exported as `npm run dev` prints them, against this suite's wrangler dev. That server
// has no demo fleet, so this also proves the examples create every host and VM they use.
// The blocks run are exactly those marked `<!-- runnable: NAME -->`; the console
// examples keep their WebSocket clients in the background and end them themselves, so
// none waits for a keyboard. Each must exit 0 in time, every request in it must succeed
// (curl fails on an HTTP error here, which a reader would only see in the output), and
// what its comments say it prints must be printed.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ShellSession, startShellSession } from "./support/shell-session";

const repoRoot = join(import.meta.dirname, "../..");
const blockTimeoutMs = 30_000;

/**
 * The runnable blocks in README order, each with fragments of output quoted from its
 * own comments: they must be in the block (so the comment is what is checked) and in
 * what it printed.
 */
const expectedBlocks: [name: string, fragments: string[]][] = [
	["console-enrol", ['"hostId":"host-a1","domain":"rack-7"', '"keyVersion":1']],
	["console-agent", []],
	["console-session", ['"hostId":"host-a1","vmId":"vm-web-1","state":"vm_pending"']],
	["console-user", ["echo: hello"]],
	[
		"console-admin",
		[
			'"state":"established"',
			'"bytesFromUser":6,"bytesFromVm":12',
			"closed: terminated",
			'"keyVersion":2',
		],
	],
	["recordings", ['"title":"vm-web-1 on host-a1"', '"o","echo: hello\\n"]', '{"url":"ws://']],
	[
		"migration-dry-run",
		[
			'"hostId":"host-b1","domain":"rack-7"',
			'"subtasksTotal":17,"subtasksSkipped":11',
			'"failure":{"stage":"validation","reason":"target-health/agent-connected failed: check is false: target.agentConnected"}',
		],
	],
	[
		"pci-transfer",
		[
			'"vmId":"vm-db-1","hostId":"host-a1"',
			'{"physicalAddress":"0x800000123","hostId":"host-a1","bdf":"0000:3b:00.0","vfIndex":0,"mappingVersion":1}',
			'"offset":"-0x7ef700000000","mappingVersion":2}',
			'{"physicalAddress":"0x900000123","hostId":"host-b1","bdf":"0000:5e:00.0","vfIndex":0,"mappingVersion":2}',
		],
	],
];

/** The `sh` blocks marked runnable, in document order. */
function runnableBlocks(markdown: string): { name: string; script: string }[] {
	return [...markdown.matchAll(/<!-- runnable: ([\w-]+) -->\n```sh\n([\s\S]*?)\n```/g)].map(
		([, name, script]) => ({ name: name as string, script: script as string }),
	);
}

const blocks = runnableBlocks(await readFile(join(repoRoot, "README.md"), "utf8"));
let shell: ShellSession;

beforeAll(async () => {
	const { EDGEVISOR_URL: _url, EDGEVISOR_TOKEN: _token, ...inherited } = process.env;
	shell = await startShellSession({
		cwd: repoRoot,
		env: { ...inherited, EDGEVISOR_URL: inject("baseUrl"), EDGEVISOR_TOKEN: inject("adminToken") },
		prelude: 'curl() { command curl --fail-with-body "$@"; }',
	});
});

afterAll(async () => {
	await shell?.close();
});

describe("README examples", () => {
	it("marks the blocks this test expects, in this order", () => {
		expect(blocks.map((block) => block.name)).toEqual(expectedBlocks.map(([name]) => name));
	});

	for (const [index, [name, fragments]] of expectedBlocks.entries()) {
		it(
			`runs "${name}" as pasted`,
			async () => {
				const block = blocks[index];
				expect(block?.name).toBe(name);
				const script = block?.script ?? "";
				for (const fragment of fragments) expect(script).toContain(fragment);
				const output = await shell.run(script, blockTimeoutMs);
				for (const fragment of fragments) expect(output).toContain(fragment);
			},
			blockTimeoutMs + 5_000,
		);
	}
});
