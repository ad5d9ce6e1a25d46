import type { AgentChannel } from "./agent";
import type { Relay, RelayAttachment } from "./relay";

/** What any socket of a service processor carries across hibernation. */
export type SocketAttachment = RelayAttachment | { role: "agent" };

/**
 * Routes the hibernation API's socket events to their owner: the agent's
 * channel, or the relay for the sides and viewers of a session.
 */
export class SocketEvents {
	/** Each socket's attachment, deserialized once per socket while the object lives. */
	private readonly attachments = new WeakMap<WebSocket, SocketAttachment | null>();

	constructor(
		private readonly agent: AgentChannel,
		private readonly relay: Relay,
	) {}

	private attachmentOf(socket: WebSocket): SocketAttachment | null {
		let attachment = this.attachments.get(socket);
		if (attachment === undefined) {
			attachment = (socket.deserializeAttachment() as SocketAttachment | null) ?? null;
			this.attachments.set(socket, attachment);
		}
		return attachment;
	}

	/** A frame arrived on `socket`. */
	message(socket: WebSocket, message: string | ArrayBuffer): void {
		const attachment = this.attachmentOf(socket);
		if (attachment?.role === "agent") this.agent.receive(message);
		else if (attachment) this.relay.relay(socket, attachment, message);
	}

	/** `socket` closed or failed: a session side's departure ends what it ends. */
	gone(socket: WebSocket): void {
		const attachment = this.attachmentOf(socket);
		if (attachment && attachment.role !== "agent") this.relay.detach(socket, attachment);
	}
}
