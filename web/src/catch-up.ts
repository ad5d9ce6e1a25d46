/**
 * A live viewer's screen caught up with what the VM printed before the
 * viewer joined. A viewer channel sends only frames relayed after it joins,
 * so a quiet VM would leave the viewer blank; a live session's recording
 * holds everything before. The viewer joins first and the recording is read
 * second, so nothing falls between the two; frames relayed in between are in
 * both (the recording's tail, the first live frames) and are written once.
 * Pure: no DOM, so it is tested in Node.
 */

/**
 * The live frames not already at the end of `recorded`: drops the longest
 * run of leading frames that `recorded` ends with. (A frame that merely
 * repeats the recording's last output right after the join is dropped too;
 * the price of a viewer channel without sequence numbers.)
 */
export function framesAfterOverlap(recorded: string, frames: string[]): string[] {
	for (let count = frames.length; count > 0; count--) {
		if (recorded.endsWith(frames.slice(0, count).join(""))) return frames.slice(count);
	}
	return frames;
}

/** Where live frames go before and after the recording is in. */
export interface CatchUp {
	/** A live frame: held until `recorded` is called, then written at once. */
	frame(data: string | Uint8Array): void;
	/** The recording's output so far: written, then the held frames it does not already hold. */
	recorded(text: string): void;
}

/** A catch-up writing text to `write` (binary frames decoded as one UTF-8 stream). */
export function catchUp(write: (text: string) => void): CatchUp {
	const decoder = new TextDecoder();
	let held: string[] | undefined = [];
	return {
		frame(data) {
			const text = typeof data === "string" ? data : decoder.decode(data, { stream: true });
			if (held) held.push(text);
			else write(text);
		},
		recorded(text) {
			if (!held) return;
			const live = framesAfterOverlap(text, held);
			held = undefined;
			write(text);
			for (const frame of live) write(frame);
		},
	};
}
