// Proves scripts/wrangler-dev.mjs copes with the race every picked port has:
// another process may listen on it before wrangler does (another test run's
// wrangler, most likely, which answers the health path as ours would). The
// start never hands back that server, and one on a picked port goes on to a
// newly picked one. The taker here is a plain HTTP server answering 200 to
// everything. Does not prove the clash of wrangler's internal ports.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM script shared with `npm run dev`
import { freePort, startWranglerDev } from "../../scripts/wrangler-dev.mjs";

type Started = { baseUrl: string; stop(): Promise<void> };

let workDir = "";
let taker: Server;
let takenPort = 0;
const started: Started[] = [];

beforeEach(async () => {
	workDir = await mkdtemp(join(tmpdir(), "edgevisor-wrangler-dev-"));
	taker = createServer((_request, response) => response.end("not edgevisor"));
	await new Promise<void>((resolve) => taker.listen(0, "127.0.0.1", resolve));
	takenPort = (taker.address() as { port: number }).port;
});

afterEach(async () => {
	for (const server of started.splice(0)) await server.stop();
	await new Promise((resolve) => taker.close(resolve));
	await rm(workDir, { recursive: true, force: true });
});

/** Starts wrangler dev with its own state; `options` pick or fix the port. */
async function start(options: { port?: number; pickPort?: () => Promise<number> }) {
	const server: Started = await startWranglerDev({
		...options,
		persistTo: join(workDir, "state"),
		timeoutMs: 60_000,
	});
	started.push(server);
	return server;
}

describe("startWranglerDev", () => {
	it("never hands back a server it did not start, though it answers the health path", async () => {
		await expect(start({ port: takenPort })).rejects.toThrow(
			`Address already in use (127.0.0.1:${takenPort})`,
		);
	}, 120_000);

	it("starts on a newly picked port when another process took the one it picked", async () => {
		const picks = [takenPort];
		const server = await start({ pickPort: async () => picks.shift() ?? freePort() });
		expect(new URL(server.baseUrl).port).not.toBe(String(takenPort));
		expect(await (await fetch(`${server.baseUrl}/healthz`)).json()).toEqual({ ok: true });
	}, 120_000);
});
