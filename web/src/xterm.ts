/**
 * xterm.js wiring shared by the live terminal, the live viewer and the
 * recording player: a fitted terminal, and a WebSocket's text and binary
 * frames written into it.
 */

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import {
	type ConsoleNotice,
	consoleProtocols,
	type TerminalSize,
	tokenInProtocol,
} from "../../shared/console-protocol";

/** An open terminal and what a view does with it. */
export interface OpenTerminal {
	terminal: Terminal;
	/**
	 * Lays the terminal out at a console's own size from now on (no longer
	 * fitted to its container), once what was written before it is drawn.
	 */
	pinSize: (size: TerminalSize) => void;
	dispose: () => void;
}

/** A terminal opened in `container` and fitted to it (and to window resizes). */
export function openTerminal(
	container: HTMLElement,
	options: { readOnly?: boolean; cols?: number; rows?: number } = {},
): OpenTerminal {
	const terminal = new Terminal({
		cursorBlink: !options.readOnly,
		disableStdin: options.readOnly ?? false,
		fontSize: 14,
		// At a line height of 1 the DOM renderer's rows are exactly one glyph
		// box tall and clip what sits at its bottom edge: at 1× pixel density
		// `snake_case` showed as `snake case`. 1.2 keeps the underscore inside its row.
		lineHeight: 1.2,
		fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace",
		cols: options.cols ?? 100,
		rows: options.rows ?? 24,
		theme: { background: "#0f172a", foreground: "#e2e8f0" },
	});
	terminal.open(container);
	// A recording keeps its own width; live consoles follow the container,
	// also when it comes back from being hidden (a kept terminal view) with
	// another size: a window resize alone would miss that.
	const fit = new FitAddon();
	const resizes = new ResizeObserver(() => fit.fit());
	if (options.cols === undefined) {
		terminal.loadAddon(fit);
		fit.fit();
		resizes.observe(container);
	}
	return {
		terminal,
		pinSize: ({ cols, rows }) => {
			resizes.disconnect();
			// xterm parses writes later but resizes at once: queued behind them, the resize keeps its place.
			terminal.write("", () => terminal.resize(cols, rows));
		},
		dispose: () => {
			resizes.disconnect();
			terminal.dispose();
		},
	};
}

/**
 * Dials a console channel offering the console subprotocols, its token as a
 * subprotocol too: out of the URL, and so out of logs and history.
 */
export function dialConsole(channelUrl: string): WebSocket {
	const dial = tokenInProtocol(channelUrl);
	const token = dial.tokenProtocol ? [dial.tokenProtocol] : [];
	return new WebSocket(dial.url, [...consoleProtocols, ...token]);
}

/** Why a channel closed, for a status line that already says "closed": `terminated (code 1000)`. */
function closeDescription(event: CloseEvent): string {
	return event.reason ? `${event.reason} (code ${event.code})` : `code ${event.code}`;
}

/**
 * Writes every frame of `socket` into `terminal` (text as text, binary as
 * bytes) and reports the close with its reason (see closeDescription).
 */
export function pipeSocketToTerminal(
	socket: WebSocket,
	terminal: Pick<Terminal, "write">,
	onClose: (description: string) => void,
	onNotice?: (notice: ConsoleNotice) => void,
): void {
	socket.binaryType = "arraybuffer";
	socket.addEventListener("message", (event: MessageEvent<string | ArrayBuffer>) => {
		// Under a console subprotocol a text frame is Edgevisor's notice, not console output.
		if (typeof event.data === "string" && consoleProtocols.includes(socket.protocol)) {
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
		onClose(closeDescription(event));
	});
}
