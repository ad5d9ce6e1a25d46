// @ts-check
// Acks for the control channel, one frame per short window: commands that
// arrive close together (session.open under load) are acked together with
// `{"type": "ack", "ids": [...]}`, so the service processor handles one
// message instead of one per command. A lone command is acked as `{id}`.
// Delaying an ack is harmless: unacked commands are only resent on reconnect,
// which agents dedupe, and `flush()` sends what waits before a planned close.

/** How long the first ack of a batch waits for others. */
export const ackWindowMs = 20;

/**
 * @param {(frame: string) => void} send writes one text frame to the channel
 * @param {number} [windowMs]
 * @returns {{ack(id: string): void, flush(): void}}
 */
export function createAckBatcher(send, windowMs = ackWindowMs) {
	/** @type {string[]} */
	let ids = [];
	/** @type {ReturnType<typeof setTimeout> | undefined} */
	let timer;
	const flush = () => {
		clearTimeout(timer);
		timer = undefined;
		if (ids.length === 0) return;
		const [only] = ids;
		send(JSON.stringify(ids.length === 1 ? { type: "ack", id: only } : { type: "ack", ids }));
		ids = [];
	};
	return {
		ack(id) {
			ids.push(id);
			timer ??= setTimeout(flush, windowMs);
		},
		flush,
	};
}
