/**
 * The host agent's control channel: a queue of commands, each with a unique
 * id, persisted until the agent acknowledges it, and sent again whenever the
 * agent (re)connects — at-least-once delivery; agents dedupe by id.
 * One live channel per host: a new connection replaces the old one.
 *
 * A command that carries a channel URL (`session.open`) is stored without
 * its single-use token: a queue may wait for an offline agent for hours, and
 * storage must never hold a token that opens a VM's console. The URL stays
 * in memory while this object lives; a replay after an eviction gets a
 * freshly minted token (`reissueChannels`).
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

/** Mints a new channel URL for a stored command's session, or null when it no longer needs one. */
export type ChannelReissuer = (sessionId: string) => Promise<string | null>;

type ChannelCommand = { id: string; sessionId?: string; channel: { url: string } };

function channelOf(command: unknown): ChannelCommand | undefined {
	const { channel } = (command ?? {}) as { channel?: { url?: unknown } };
	return typeof channel?.url === "string" ? (command as ChannelCommand) : undefined;
}

/** The URL without its `token`: what may be stored. */
function withoutToken(url: string): string {
	const parsed = new URL(url);
	parsed.searchParams.delete("token");
	return parsed.toString();
}

function hasToken(url: string): boolean {
	return new URL(url).searchParams.has("token");
}

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
	/** Command id → its channel URL with the token: in memory only, never stored. */
	private readonly channelUrls = new Map<string, string>();

	constructor(private readonly ctx: DurableObjectState) {}

	private get sql(): SqlStorage {
		return this.ctx.storage.sql;
	}

	/** Persists the command with a fresh id and sends it if the agent is connected. */
	enqueue(command: AgentCommandInput, sessionId?: string): string {
		const id = crypto.randomUUID();
		const full = { ...command, id };
		const channel = channelOf(full);
		const stored = channel
			? { ...full, channel: { ...channel.channel, url: withoutToken(channel.channel.url) } }
			: full;
		if (channel) this.channelUrls.set(id, channel.channel.url);
		this.sql.exec(
			"INSERT INTO agent_commands (id, type, session_id, body, created_at) VALUES (?, ?, ?, ?, ?)",
			id,
			command.type,
			sessionId ?? null,
			JSON.stringify(stored),
			new Date().toISOString(),
		);
		const body = JSON.stringify(full);
		for (const socket of this.ctx.getWebSockets(agentTag)) send(socket, body);
		return id;
	}

	/**
	 * Before a replay: a fresh channel URL for every queued command whose
	 * token is not in memory (this object was evicted since it was queued);
	 * a command whose session no longer needs one is dropped.
	 */
	async reissueChannels(reissue: ChannelReissuer): Promise<void> {
		for (const row of this.queue()) {
			const channel = channelOf(JSON.parse(row.body));
			if (!channel || this.channelUrls.has(row.id) || hasToken(channel.channel.url)) continue;
			const url = channel.sessionId ? await reissue(channel.sessionId) : null;
			if (url) this.channelUrls.set(row.id, url);
			else this.sql.exec("DELETE FROM agent_commands WHERE id = ?", row.id);
		}
	}

	/** Accepts a new agent socket, closing any older one, and replays unacked commands in order. */
	attach(socket: WebSocket): void {
		for (const old of this.ctx.getWebSockets(agentTag)) {
			old.close(4000, "replaced by a newer agent connection");
		}
		this.ctx.acceptWebSocket(socket, [agentTag]);
		socket.serializeAttachment({ role: "agent" });
		for (const row of this.queue()) {
			const url = this.channelUrls.get(row.id);
			if (!url) {
				// Stored whole (no channel, or queued before tokens were kept out of storage).
				send(socket, row.body);
				continue;
			}
			const command = JSON.parse(row.body) as ChannelCommand;
			send(socket, JSON.stringify({ ...command, channel: { ...command.channel, url } }));
		}
	}

	/** The unacked commands, oldest first. */
	private queue(): CommandRow[] {
		this.flushAcks();
		return this.sql
			.exec<CommandRow>("SELECT seq, id, body FROM agent_commands ORDER BY seq")
			.toArray();
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
			this.channelUrls.delete(id);
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
