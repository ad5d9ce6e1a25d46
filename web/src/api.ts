/**
 * The console's only way to the server: the public API with the admin token
 * kept in sessionStorage (gone when the tab closes; never localStorage, never a
 * cookie), sent as `Authorization: Bearer` on every call.
 */

const tokenKey = "edgevisor.adminToken";

/** An RFC 9457 problem (or a network failure) as an Error with the problem's code. */
export class ApiProblem extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		detail: string,
	) {
		super(detail);
		this.name = "ApiProblem";
	}

	/** One readable line, e.g. `401 unauthorized: admin bearer token missing or wrong`. */
	toLine(): string {
		return `${this.status === 0 ? "" : `${this.status} `}${this.code}: ${this.message}`;
	}
}

/** What to show for a failure: a problem's one line, anything else as text. */
export function describeError(error: unknown): string {
	return error instanceof ApiProblem ? error.toLine() : String(error);
}

/** The admin token of this browser session, if the user logged in. */
export function adminToken(): string | null {
	return sessionStorage.getItem(tokenKey);
}

/** Keeps the token for this browser session only. */
export function rememberToken(token: string): void {
	sessionStorage.setItem(tokenKey, token);
}

/** Forgets the token (log out, or the server refused it). */
export function forgetToken(): void {
	sessionStorage.removeItem(tokenKey);
}

/** Encodes one path segment (ids are safe already; this keeps it so). */
export const segment = encodeURIComponent;

/** Turns a failed response into an ApiProblem carrying the problem's detail. */
async function problemOf(response: Response): Promise<ApiProblem> {
	try {
		const problem = (await response.json()) as { code?: string; detail?: string; title?: string };
		return new ApiProblem(
			response.status,
			problem.code ?? "error",
			problem.detail ?? problem.title ?? response.statusText,
		);
	} catch {
		return new ApiProblem(response.status, "error", response.statusText || "request failed");
	}
}

/** Sends a request with the admin token; the raw response, or an ApiProblem. */
export async function send(
	method: string,
	path: string,
	options: {
		body?: unknown;
		token?: string;
		signal?: AbortSignal;
		accept?: string;
		headers?: Record<string, string>;
	} = {},
): Promise<Response> {
	const headers: Record<string, string> = {
		Accept: options.accept ?? "application/json",
		...options.headers,
	};
	const token = options.token ?? adminToken();
	if (token) headers.Authorization = `Bearer ${token}`;
	if (options.body !== undefined) headers["Content-Type"] = "application/json";
	let response: Response;
	try {
		response = await fetch(path, {
			method,
			headers,
			body: options.body === undefined ? undefined : JSON.stringify(options.body),
			signal: options.signal,
		});
	} catch (error) {
		if (error instanceof DOMException && error.name === "AbortError") throw error;
		throw new ApiProblem(0, "unreachable", "the server did not answer");
	}
	if (!response.ok) throw await problemOf(response);
	return response;
}

/** Sends an admin request and parses its JSON answer (undefined for 204). */
export async function api<T>(
	method: string,
	path: string,
	body?: unknown,
	token?: string,
): Promise<T> {
	const response = await send(method, path, { body, token });
	if (response.status === 204) return undefined as T;
	return (await response.json()) as T;
}

/** Posts a compact JWE broadcast request (no admin token: the JWE is the credential). */
export async function postSessionRequest(jwe: string): Promise<Response> {
	const response = await fetch("/v1/sessions", {
		method: "POST",
		headers: { "Content-Type": "application/jose", Accept: "application/json" },
		body: jwe,
	});
	if (!response.ok) throw await problemOf(response);
	return response;
}
