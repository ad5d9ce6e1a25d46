// @ts-check
// Acks for the control channel, one frame per event-loop turn: commands that
// arrive together (a burst of session.open under load) are acked together
// with `{"type": "ack", "ids": [...]}`, so the service processor handles one
// message instead of one per command. A lone command is acked as `{id}`.

/**
 * @param {(frame: string) => void} send writes one text frame to the channel
 * @returns {{ack(id: string): void, flush(): void}}
 */
export function createAckBatcher(send) {
	/** @type {string[]} */
	let ids = [];
	const flush = () => {
		if (ids.length === 0) return;
		const [only] = ids;
		send(JSON.stringify(ids.length === 1 ? { type: "ack", id: only } : { type: "ack", ids }));
		ids = [];
	};
	return {
		ack(id) {
			ids.push(id);
			if (ids.length === 1) setImmediate(flush);
		},
		flush,
	};
}
