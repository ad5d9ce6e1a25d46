/**
 * xterm.js wiring shared by the live terminal, the live viewer and the
 * recording player: a fitted terminal, and a WebSocket's text and binary
 * frames written into it.
 */

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { type ConsoleNotice, consoleProtocol } from "../../shared/console-protocol";

/** A terminal opened in `container` and fitted to it (and to window resizes). */
export function openTerminal(
	container: HTMLElement,
	options: { readOnly?: boolean; cols?: number; rows?: number } = {},
): { terminal: Terminal; dispose: () => void } {
	const terminal = new Terminal({
		cursorBlink: !options.readOnly,
		disableStdin: options.readOnly ?? false,
		fontSize: 14,
		fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace",
		cols: options.cols ?? 100,
		rows: options.rows ?? 24,
		theme: { background: "#0f172a", foreground: "#e2e8f0" },
	});
	terminal.open(container);
	const fit = new FitAddon();
	// A recording keeps its own width; live consoles follow the container.
	if (options.cols === undefined) {
		terminal.loadAddon(fit);
		fit.fit();
	}
	const onResize = () => options.cols === undefined && fit.fit();
	window.addEventListener("resize", onResize);
	return {
		terminal,
		dispose: () => {
			window.removeEventListener("resize", onResize);
			terminal.dispose();
		},
	};
}

/**
 * Writes every frame of `socket` into `terminal` (text as text, binary as
 * bytes) and reports the close with its reason.
 */
export function pipeSocketToTerminal(
	socket: WebSocket,
	terminal: Terminal,
	onClose: (description: string) => void,
	onNotice?: (notice: ConsoleNotice) => void,
): void {
	socket.binaryType = "arraybuffer";
	socket.addEventListener("message", (event: MessageEvent<string | ArrayBuffer>) => {
		// Under the console subprotocol a text frame is Edgevisor's notice, not console output.
		if (typeof event.data === "string" && socket.protocol === consoleProtocol) {
			try {
				onNotice?.(JSON.parse(event.data) as ConsoleNotice);
			} catch {
				// Not a notice we know.
			}
			return;
		}
		terminal.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
	});
	socket.addEventListener("close", (event) => {
		onClose(`closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`);
	});
}
