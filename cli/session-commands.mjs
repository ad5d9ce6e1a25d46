// @ts-check
// Admin commands for console sessions: list, show, terminate, download a
// session's recording (asciicast v2), and watch a live session read-only.
import { writeFile } from "node:fs/promises";
import { Option } from "commander";
import { terminalSizeOf } from "../shared/console-protocol.ts";
import { openConsoleChannel } from "./console-channel.mjs";
import { action } from "./context.mjs";
import { CliError, exitCodes, print, printRecord, printTable } from "./output.mjs";
import { swallowKeyboard } from "./read-only-keyboard.mjs";

/** @typedef {import("./context.mjs").CommandContext} CommandContext */

/**
 * One line of our own on stderr when the console's size (its user's
 * terminal) is not this terminal's: a terminal cannot be resized from here,
 * and output laid out for another width wraps or leaves gaps.
 * @param {import("../shared/console-protocol.ts").TerminalSize} size
 */
function noteConsoleSize({ cols, rows }) {
	const { stdout, stderr } = process;
	if (stdout.isTTY && stdout.columns === cols && stdout.rows === rows) return;
	const here = stdout.isTTY ? `; this terminal is ${stdout.columns}×${stdout.rows}` : "";
	stderr.write(`\r\n[the console is ${cols}×${rows}${here}]\r\n`);
}

/**
 * Streams a viewer channel's frames to stdout until the session closes or
 * the user leaves (Ctrl-C, or Ctrl-] on a terminal). Nothing is ever sent:
 * the channel is read-only, and keys typed meanwhile are dropped.
 * @param {string} sessionId
 * @param {string} url the viewer URL with its single-use token
 * @returns {Promise<number>} the exit code
 */
function streamViewer(sessionId, url) {
	const { stderr } = process;
	const channel = openConsoleChannel(url, {
		leaveReason: "viewer left",
		refusedMessage: (statusCode) =>
			`edgevisor: the viewer channel was refused with HTTP ${statusCode}`,
		onOpen: () => {
			stderr.write(`Watching ${sessionId} read-only. Ctrl-C leaves.\n`);
		},
		// Told on joining and on every change, once the user's terminal has told its size.
		onNotice: (notice) => {
			const size = notice.type === "resize" ? terminalSizeOf(notice) : undefined;
			if (size) noteConsoleSize(size);
		},
		onClose: (code, reason, userLeft) => {
			process.off("SIGINT", channel.leave);
			restoreKeyboard();
			stderr.write(`\n[stopped watching: ${reason}]\n`);
			// A session that ended (any reason) or Ctrl-C is a normal end; a dropped channel is not.
			return userLeft || code === 1000 ? exitCodes.ok : exitCodes.unavailable;
		},
	});
	const restoreKeyboard = swallowKeyboard({
		onLeave: channel.leave,
		onIgnored: () => stderr.write("\n[read-only: typing is ignored; Ctrl-C leaves]\n"),
	});
	// Without a terminal (or for a signal sent from elsewhere) Ctrl-C arrives as SIGINT.
	process.once("SIGINT", channel.leave);
	return channel.closed;
}

/** @param {import("commander").Command} program */
export function registerSessionCommands(program) {
	const sessions = program.command("sessions").description("console sessions");
	sessions
		.command("list")
		.description("a host's sessions")
		.addOption(new Option("--host <hostId>", "the sessions' host").makeOptionMandatory())
		.action(
			action(async ({ api, json }, /** @type {{host: string}} */ { host }) => {
				const { body } = await api.GET("/v1/hosts/{hostId}/sessions", {
					params: { path: { hostId: host } },
				});
				print(json, body, () =>
					printTable(body.sessions, [
						"sessionId",
						"vmId",
						"state",
						"createdAt",
						"bytesFromUser",
						"bytesFromVm",
						"viewers",
						"closeReason",
					]),
				);
			}),
		);
	sessions
		.command("show <sessionId>")
		.description("one session with its audit moments, viewers and recording")
		.action(
			action(async ({ api, json }, /** @type {string} */ sessionId) => {
				const { body } = await api.GET("/v1/sessions/{sessionId}", {
					params: { path: { sessionId } },
				});
				print(json, body, () => printRecord(body));
			}),
		);
	sessions
		.command("terminate <sessionId>")
		.description("close both sides of a session")
		.action(
			action(async ({ api, json }, /** @type {string} */ sessionId) => {
				await api.DELETE("/v1/sessions/{sessionId}", { params: { path: { sessionId } } });
				print(json, { terminated: sessionId }, () => console.log(`${sessionId} terminated`));
			}),
		);
	sessions
		.command("recording <sessionId>")
		.description("a session's console recording (asciicast v2, the VM's output only)")
		.option("-o, --output <file>", "write the .cast there instead of to stdout")
		.action(
			action(
				async (
					{ api, json },
					/** @type {string} */ sessionId,
					/** @type {{output?: string}} */ { output },
				) => {
					// An empty answer reads as undefined.
					const { body: cast = "" } = await api.GET("/v1/sessions/{sessionId}/recording", {
						params: { path: { sessionId } },
						headers: { Accept: "application/x-asciicast" },
						parseAs: "text",
					});
					if (!output) {
						process.stdout.write(cast);
						return;
					}
					await writeFile(output, cast);
					const bytes = Buffer.byteLength(cast);
					print(json, { sessionId, file: output, bytes }, () =>
						console.log(`recording of ${sessionId} written to ${output} (${bytes} bytes)`),
					);
				},
			),
		);
	sessions
		.command("watch <sessionId>")
		.description("watch a live session's console read-only (Ctrl-C leaves; typing is ignored)")
		.action(
			action(async ({ api }, /** @type {string} */ sessionId) => {
				const { body: viewer } = await api.POST("/v1/sessions/{sessionId}/viewers", {
					params: { path: { sessionId } },
				});
				if (typeof viewer?.url !== "string") {
					throw new CliError("the server answered without a viewer URL", exitCodes.unavailable);
				}
				return streamViewer(sessionId, viewer.url);
			}),
		);
}
