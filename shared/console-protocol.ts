/**
 * The console channel's optional WebSocket subprotocol. A user-channel client
 * that offers it gets the console as binary frames only, and notices from
 * Edgevisor itself as text frames of JSON — so a notice (the VM moved) never
 * puts a byte into the console stream. A client that does not offer it gets
 * the plain stream, text and binary frames as the VM sent them. Imports
 * nothing: the CLI (Node) and the web console share it with the Worker.
 */
export const consoleProtocol = "edgevisor.console.v1";

/** A notice on the console channel (a text frame under `consoleProtocol`). */
export type ConsoleNotice = {
	type: "vm_moved";
	/** The host whose agent carries the VM side now. */
	vmHostId: string;
};
