// @ts-check
// The keyboard of a read-only console (`sessions watch`). A terminal in its
// normal (cooked) mode keeps what the user types until someone reads it, so
// keys typed at a viewer would run in the shell once it exits. On a terminal
// we therefore read every key in raw mode and drop it; Ctrl-C and Ctrl-]
// (connect's escape) still leave, as raw mode turns them into plain bytes.

const leaveKeys = [0x03, 0x1d]; // Ctrl-C, Ctrl-]

/**
 * Swallows what is typed on a terminal stdin until the returned function
 * restores it; does nothing when stdin is not a terminal.
 * @param {{onLeave: () => void, onIgnored: () => void}} handlers
 *   `onLeave` on Ctrl-C or Ctrl-]; `onIgnored` the first time anything else is typed
 * @returns {() => void} restores the terminal (idempotent)
 */
export function swallowKeyboard({ onLeave, onIgnored }) {
	const { stdin } = process;
	if (!stdin.isTTY) return () => {};
	let told = false;
	const onData = (/** @type {Buffer} */ chunk) => {
		if (leaveKeys.some((key) => chunk.includes(key))) {
			onLeave();
		} else if (!told) {
			told = true;
			onIgnored();
		}
	};
	const cookTerminal = () => stdin.setRawMode(false);
	// Whatever ends the process, the user's terminal must not stay raw.
	process.once("exit", cookTerminal);
	stdin.setRawMode(true);
	stdin.on("data", onData);
	stdin.resume();
	return () => {
		stdin.off("data", onData);
		process.off("exit", cookTerminal);
		cookTerminal();
		stdin.pause();
	};
}
