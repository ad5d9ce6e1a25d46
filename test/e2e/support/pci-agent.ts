import WebSocket from "ws";

/** A command as the host agent receives it. */
export type RecordedCommand = { id: string; type: string; [field: string]: unknown };

/**
 * A host agent over a real `ws` channel that acks every command and records
 * them in arrival order, so tests can check the order across command types.
 * Every wait is bounded.
 */
export function connectRecordingAgent(baseUrl: string, hostId: string, agentToken: string) {
	const commands: RecordedCommand[] = [];
	const waiters: Array<() => void> = [];
	const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/v1/hosts/${hostId}/agent`, {
		headers: { Authorization: `Bearer ${agentToken}` },
	});
	socket.on("message", (data) => {
		const command = JSON.parse(String(data)) as RecordedCommand;
		socket.send(JSON.stringify({ type: "ack", id: command.id }));
		// At-least-once delivery: a real agent dedupes by id.
		if (commands.some((seen) => seen.id === command.id)) return;
		commands.push(command);
		for (const wake of waiters.splice(0)) wake();
	});
	const opened = new Promise<void>((resolve, reject) => {
		socket.once("open", () => resolve());
		socket.once("error", reject);
	});
	/** Waits until `count` commands of the given types arrived; returns them in arrival order. */
	async function until(types: string[], count: number, timeoutMs = 10_000) {
		const deadline = Date.now() + timeoutMs;
		const matching = () => commands.filter((command) => types.includes(command.type));
		while (matching().length < count) {
			const remaining = deadline - Date.now();
			if (remaining <= 0) throw new Error(`only ${matching().length} of ${count} commands arrived`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, remaining);
				waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
		return matching();
	}
	return { opened, until, close: () => socket.close() };
}
