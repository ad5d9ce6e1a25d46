// @ts-check
// Follows one migration until it ends: the Server-Sent Events stream of
// `GET /v1/migrations/{id}/events`, falling back to polling the record when
// the stream is unavailable or ends early.

/** States after which nothing changes any more. */
export const terminalStates = new Set(["completed", "failed", "cancelled"]);
const pollIntervalMs = 1000;

/**
 * Yields the data of each SSE event in a response body.
 * @param {ReadableStream<Uint8Array>} body
 */
export async function* readServerSentEvents(body) {
	const decoder = new TextDecoder();
	let buffer = "";
	for await (const chunk of /** @type {AsyncIterable<Uint8Array>} */ (body)) {
		buffer += decoder.decode(chunk, { stream: true });
		// A CR at the end may be half of a CRLF cut by the chunking: keep it for later.
		const pendingCarriageReturn = buffer.endsWith("\r");
		const normalized = buffer
			.slice(0, pendingCarriageReturn ? -1 : undefined)
			.replace(/\r\n?/g, "\n");
		buffer = pendingCarriageReturn ? `${normalized}\r` : normalized;
		let boundary = buffer.indexOf("\n\n");
		while (boundary !== -1) {
			const block = buffer.slice(0, boundary);
			buffer = buffer.slice(boundary + 2);
			const data = block
				.split("\n")
				.filter((line) => line.startsWith("data:"))
				.map((line) => line.slice(5).replace(/^ /, ""))
				.join("\n");
			if (data !== "") yield data;
			boundary = buffer.indexOf("\n\n");
		}
	}
}

/**
 * Calls `onChange` with each new version of the migration record until it
 * reaches a terminal state, which it returns.
 * @param {import("./api.mjs").ApiClient} api
 * @param {string} migrationId
 * @param {(record: any) => void} onChange
 */
export async function followMigration(api, migrationId, onChange) {
	const params = { path: { migrationId } };
	let latest = (await api.GET("/v1/migrations/{migrationId}", { params })).body;
	onChange(latest);
	if (terminalStates.has(latest.state)) return latest;
	try {
		const { body: stream } = await api.GET("/v1/migrations/{migrationId}/events", {
			params,
			headers: { Accept: "text/event-stream" },
			parseAs: "stream",
		});
		if (stream) {
			for await (const data of readServerSentEvents(stream)) {
				const record = parseRecord(data);
				if (!record) continue;
				latest = record;
				onChange(latest);
				if (terminalStates.has(latest.state)) {
					await stream.cancel().catch(() => {});
					return latest;
				}
			}
		}
	} catch {
		// No stream (a problem answer, read in full), or it broke: polling below still gets us to the end.
	}
	for (;;) {
		await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
		const record = (await api.GET("/v1/migrations/{migrationId}", { params })).body;
		if (JSON.stringify(record) !== JSON.stringify(latest)) onChange(record);
		latest = record;
		if (terminalStates.has(latest.state)) return latest;
	}
}

/** An event's migration record: the data itself, or a `{migration}` wrapper. */
function parseRecord(/** @type {string} */ data) {
	try {
		const parsed = JSON.parse(data);
		const record = parsed?.migration ?? parsed;
		return typeof record?.state === "string" ? record : undefined;
	} catch {
		return undefined;
	}
}

/** Overall percent of a record whose `progress` is a number or `{percent}`. */
export function percentOf(/** @type {any} */ record) {
	const progress = record?.progress;
	const percent = typeof progress === "number" ? progress : progress?.percent;
	return typeof percent === "number" ? Math.max(0, Math.min(100, percent)) : 0;
}

/** The phase a record's progress names, if any. */
export function phaseOf(/** @type {any} */ record) {
	return typeof record?.progress === "object" ? (record.progress?.phase ?? "") : "";
}
