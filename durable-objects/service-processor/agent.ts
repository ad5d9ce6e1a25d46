/**
 * The host agent's control channel: a queue of commands, each with a unique
 * id, persisted until the agent acknowledges it, and sent again whenever the
 * agent (re)connects — at-least-once delivery; agents dedupe by id.
 * One live channel per host: a new connection replaces the old one.
 */

/** A command for the host agent before it is given an id. */
export type AgentCommandInput = { type: string; [field: string]: unknown };

/** WebSocket tag of the agent channel (hibernation API). */
export const agentTag = "agent";

/** Most command ids one ack frame may carry; the rest are ignored (and redelivered). */
const maxIdsPerAck = 1_000;
/** How long received acks may wait in memory before their commands are deleted. */
const ackFlushMs = 1_000;

type CommandRow = { seq: number; id: string; body: string };

/**
 * The command queue and the agent socket it feeds.
 *
 * Acks are applied in memory at once and deleted from storage at most
 * `ackFlushMs` later (and before any read of the queue): a write per ack
 * would cost a storage commit per command. An eviction in between can only
 * make an acked command be sent again, which at-least-once agents already
 * dedupe by id.
 */
export class AgentChannel {
	private readonly pendingAcks = new Set<string>();
	private ackTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(private readonly ctx: DurableObjectState) {}

	private get sql(): SqlStorage {
		return this.ctx.storage.sql;
	}

	/** Persists the command with a fresh id and sends it if the agent is connected. */
	enqueue(command: AgentCommandInput, sessionId?: string): string {
		const id = crypto.randomUUID();
		const body = JSON.stringify({ ...command, id });
		this.sql.exec(
			"INSERT INTO agent_commands (id, type, session_id, body, created_at) VALUES (?, ?, ?, ?, ?)",
			id,
			command.type,
			sessionId ?? null,
			body,
			new Date().toISOString(),
		);
		for (const socket of this.ctx.getWebSockets(agentTag)) send(socket, body);
		return id;
	}

	/** Accepts a new agent socket, closing any older one, and replays unacked commands in order. */
	attach(socket: WebSocket): void {
		for (const old of this.ctx.getWebSockets(agentTag)) {
			old.close(4000, "replaced by a newer agent connection");
		}
		this.ctx.acceptWebSocket(socket, [agentTag]);
		socket.serializeAttachment({ role: "agent" });
		this.flushAcks();
		for (const row of this.sql
			.exec<CommandRow>("SELECT seq, id, body FROM agent_commands ORDER BY seq")
			.toArray()) {
			send(socket, row.body);
		}
	}

	/** Handles a message from the agent: acks remove their command; anything else is ignored. */
	receive(message: string | ArrayBuffer): void {
		if (typeof message !== "string") return;
		let parsed: unknown;
		try {
			parsed = JSON.parse(message);
		} catch {
			return;
		}
		const { type, id, ids } = (parsed ?? {}) as { type?: unknown; id?: unknown; ids?: unknown };
		if (type !== "ack") return;
		// `ids` (additive to the contract's `id`) acks a burst of commands in one frame.
		const acked = [id, ...(Array.isArray(ids) ? ids.slice(0, maxIdsPerAck) : [])];
		for (const one of acked) if (typeof one === "string") this.pendingAcks.add(one);
		if (this.pendingAcks.size > 0) {
			this.ackTimer ??= setTimeout(() => this.flushAcks(), ackFlushMs);
		}
	}

	/** Deletes the commands whose acks are still only in memory. */
	private flushAcks(): void {
		clearTimeout(this.ackTimer);
		this.ackTimer = undefined;
		for (const id of this.pendingAcks) {
			this.sql.exec("DELETE FROM agent_commands WHERE id = ?", id);
		}
		this.pendingAcks.clear();
	}

	/**
	 * Drops a session's `session.open` if the agent never acked it (dialling a
	 * closed session is pointless) and returns whether the agent may know the
	 * session: it acked the open, or the open went to the agent connected now
	 * (whose ack may still be on its way), so it must hear of the close.
	 */
	withdrawSessionOpen(sessionId: string): boolean {
		this.flushAcks();
		const withdrawn = this.sql.exec(
			"DELETE FROM agent_commands WHERE type = 'session.open' AND session_id = ?",
			sessionId,
		).rowsWritten;
		return withdrawn === 0 || this.isConnected();
	}

	/** Ids of commands still waiting for an ack, oldest first. */
	unacked(): string[] {
		this.flushAcks();
		return this.sql
			.exec<{ id: string }>("SELECT id FROM agent_commands ORDER BY seq")
			.toArray()
			.map((row) => row.id);
	}

	/** Whether an agent socket is attached and open (a replaced or closing one is still listed). */
	isConnected(): boolean {
		return this.ctx.getWebSockets(agentTag).some((socket) => socket.readyState === WebSocket.OPEN);
	}
}

function send(socket: WebSocket, body: string): void {
	try {
		socket.send(body);
	} catch {
		// A socket mid-close: the command stays queued and is replayed on reconnect.
	}
}
