import { parseAsciicast } from "../../shared/asciicast-playback";
import type { TerminalSize } from "../../shared/console-protocol";

/**
 * The terminal size a session's recording ends at (its header's, then each
 * resize event's), read over real HTTP from a `wrangler dev` by the e2e and
 * browser tests.
 */
export async function recordedSize(
	target: { baseUrl: string; adminToken: string; signal?: AbortSignal },
	sessionId: string,
): Promise<TerminalSize> {
	const path = `/v1/sessions/${encodeURIComponent(sessionId)}/recording`;
	const response = await fetch(`${target.baseUrl}${path}`, {
		headers: { Authorization: `Bearer ${target.adminToken}` },
		signal: target.signal,
	});
	const { header, events } = parseAsciicast(await response.text());
	const resizes = events.flatMap((event) => ("size" in event ? [event.size] : []));
	return resizes.at(-1) ?? { cols: header.width, rows: header.height };
}
