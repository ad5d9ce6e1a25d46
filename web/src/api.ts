/**
 * The console's only way to the server: the public API through openapi-fetch,
 * typed by shared/api/openapi-types.ts (generated from the Worker's
 * /openapi.json by `npm run api-types`), so a path, parameter or field the
 * contract lacks fails `npm run typecheck`. The admin token is kept in
 * sessionStorage (gone when the tab closes; never localStorage, never a
 * cookie) and sent as `Authorization: Bearer` on every admin call.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "../../shared/api/openapi-types";

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

/**
 * The ApiProblem of a failed response. `body` is what openapi-fetch read of
 * it: the parsed JSON, else the text (undefined when empty).
 */
function problemOf(response: Response, body: unknown): ApiProblem {
	if (typeof body !== "object" || body === null) {
		return new ApiProblem(response.status, "error", response.statusText || "request failed");
	}
	const problem = body as { code?: string; detail?: string; title?: string };
	return new ApiProblem(
		response.status,
		problem.code ?? "error",
		problem.detail ?? problem.title ?? response.statusText,
	);
}

/** A request that got no answer; an abort stays an AbortError, for the caller to tell apart. */
const unreachable: Middleware = {
	onError({ error }) {
		if (error instanceof DOMException && error.name === "AbortError") return;
		return new ApiProblem(0, "unreachable", "the server did not answer");
	},
};

/** The logged-in token on every request that does not bring its own (the login form does). */
const adminAuth: Middleware = {
	onRequest({ request }) {
		const token = adminToken();
		if (token && !request.headers.has("Authorization")) {
			request.headers.set("Authorization", `Bearer ${token}`);
		}
	},
};

type FetchResult = { data?: unknown; error?: unknown; response: Response };

/**
 * An openapi-fetch method (its typed signature kept) that resolves with the
 * answer's body as the contract types it (parsed JSON, or text or a stream
 * when asked with `parseAs`; undefined for 204) and rejects with an
 * ApiProblem for every 4xx/5xx.
 */
function answering<Args extends unknown[], Result extends FetchResult>(
	method: (...args: Args) => Promise<Result>,
) {
	return async (...args: Args): Promise<Exclude<Result["data"], undefined>> => {
		const { data, error, response } = await method(...args);
		if (!response.ok) throw problemOf(response, error);
		return data as Exclude<Result["data"], undefined>;
	};
}

const adminClient = createClient<paths>({ headers: { Accept: "application/json" } });
adminClient.use(unreachable, adminAuth);
const publicClient = createClient<paths>({ headers: { Accept: "application/json" } });
publicClient.use(unreachable);

/** The admin API, e.g. `api.GET("/v1/hosts/{hostId}", { params: { path: { hostId } } })`. */
export const api = {
	GET: answering(adminClient.GET),
	PUT: answering(adminClient.PUT),
	POST: answering(adminClient.POST),
	DELETE: answering(adminClient.DELETE),
};

/** Posts a compact JWE broadcast request (no admin token: the JWE is the credential). */
export function postSessionRequest(jwe: string) {
	return answering(publicClient.POST)("/v1/sessions", {
		body: jwe,
		bodySerializer: (compact: string) => compact,
		headers: { "Content-Type": "application/jose" },
	});
}
