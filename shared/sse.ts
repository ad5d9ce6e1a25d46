/**
 * An incremental Server-Sent Events parser (the WHATWG event-stream format),
 * with no DOM or Workers imports. The web console reads
 * `GET /v1/migrations/{id}/events` with fetch (EventSource cannot send the
 * admin bearer header) and feeds the decoded chunks here.
 */

/** One dispatched event. */
export interface ServerSentEvent {
	event: string;
	data: string;
	id?: string;
}

/** Feed decoded text in any chunking; each call returns the events completed by it. */
export interface SseParser {
	push(chunk: string): ServerSentEvent[];
}

/** A parser that keeps partial lines and fields between chunks. */
export function createSseParser(): SseParser {
	let buffer = "";
	let dataLines: string[] = [];
	let eventName = "";
	let lastEventId: string | undefined;

	const dispatch = (events: ServerSentEvent[]) => {
		if (dataLines.length > 0) {
			events.push({ event: eventName || "message", data: dataLines.join("\n"), id: lastEventId });
		}
		dataLines = [];
		eventName = "";
	};

	const field = (line: string) => {
		const colon = line.indexOf(":");
		const name = colon === -1 ? line : line.slice(0, colon);
		const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
		if (name === "data") dataLines.push(value);
		else if (name === "event") eventName = value;
		else if (name === "id" && !value.includes("\0")) lastEventId = value;
	};

	// A CR ending one chunk may be the first half of a CRLF ending in the next.
	let skipLeadingLineFeed = false;

	return {
		push(chunk) {
			if (chunk === "") return [];
			buffer += skipLeadingLineFeed && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
			skipLeadingLineFeed = false;
			const events: ServerSentEvent[] = [];
			for (let match = /\r\n|\r|\n/.exec(buffer); match; match = /\r\n|\r|\n/.exec(buffer)) {
				const line = buffer.slice(0, match.index);
				buffer = buffer.slice(match.index + match[0].length);
				skipLeadingLineFeed = match[0] === "\r" && buffer === "";
				if (line === "") dispatch(events);
				else if (!line.startsWith(":")) field(line);
			}
			return events;
		},
	};
}
