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

/**
 * A channel's single-use token as a WebSocket subprotocol, for clients that
 * keep tokens out of URLs (and so out of access logs and trace stores), as
 * Kubernetes does with bearer tokens: offered beside the subprotocol the
 * client speaks. The server answers with that one, or with the token
 * protocol itself when nothing else was offered (the token is spent by then).
 */
export const tokenProtocolPrefix = "edgevisor.token.";

/** A channel URL split into the URL without its token and the subprotocol carrying it. */
export function tokenInProtocol(channelUrl: string): { url: string; tokenProtocol?: string } {
	const url = new URL(channelUrl);
	const token = url.searchParams.get("token");
	if (!token) return { url: channelUrl };
	url.searchParams.delete("token");
	return { url: url.toString(), tokenProtocol: `${tokenProtocolPrefix}${token}` };
}
