// @ts-check
// The CLI's client of the Edgevisor HTTP contract: openapi-fetch typed by
// shared/api/openapi-types.ts (generated from the Worker's /openapi.json by
// `npm run api-types`), so a path, parameter or field the contract lacks fails
// `npm run typecheck`. Admin bearer auth, and RFC 9457 problems (or an
// unreachable server) thrown as one error type. Used by the CLI and by the
// demo seeding.
import createClient from "openapi-fetch";

/** @typedef {import("../shared/api/openapi-types.ts").paths} paths */

/** An HTTP problem (or an unreachable server) as a typed error with a stable `code`. */
export class ApiError extends Error {
	/**
	 * @param {{code: string, status: number, title?: string, detail?: string, retryAfterSeconds?: number}} problem
	 */
	constructor({ code, status, title, detail, retryAfterSeconds }) {
		super(detail || title || code);
		this.name = "ApiError";
		this.code = code;
		this.status = status;
		this.title = title;
		this.retryAfterSeconds = retryAfterSeconds;
	}

	/** The problem as one readable line, e.g. `404 vm_not_found: no service processor holds "web-9"`. */
	toLine() {
		const status = this.status === 0 ? "" : `${this.status} `;
		const retry = this.retryAfterSeconds ? ` (retry after ${this.retryAfterSeconds} s)` : "";
		return `${status}${this.code}: ${this.message.replace(/\s+/g, " ")}${retry}`;
	}
}

/** @typedef {{data?: unknown, error?: unknown, response: Response}} FetchResult */

/**
 * A successful answer: the status, the body as the contract types it (parsed
 * JSON; text or a stream when the call asked `parseAs` so; undefined for 204)
 * and the headers.
 * @template {FetchResult} Result
 * @typedef {{status: number, body: Exclude<Result["data"], undefined>, headers: Headers}} Answer
 */

/**
 * The ApiError of a failed response. `problem` is what openapi-fetch read of
 * the body: the parsed JSON, else the text (undefined when empty).
 * @param {Response} response
 * @param {unknown} problem
 */
function problemError(response, problem) {
	/** @type {{code?: unknown, title?: string, detail?: string} | undefined} */
	const parsed = typeof problem === "object" && problem !== null ? problem : undefined;
	const text = typeof problem === "string" ? problem : "";
	const retryAfter = Number(response.headers.get("retry-after"));
	return new ApiError({
		code: typeof parsed?.code === "string" ? parsed.code : `http_${response.status}`,
		status: response.status,
		title: parsed?.title,
		detail: parsed?.detail ?? (parsed ? undefined : text.slice(0, 200)),
		retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
	});
}

/**
 * A client of the server at `baseUrl`, sending `token` as the admin bearer
 * when given. Its GET/PUT/POST/DELETE are openapi-fetch's, typed by the
 * contract, e.g. `api.GET("/v1/hosts/{hostId}", { params: { path: { hostId } } })`.
 * @param {{baseUrl: string, token?: string, fetchImpl?: typeof fetch}} options
 */
export function createApiClient({ baseUrl, token, fetchImpl = fetch }) {
	/** @param {unknown} [error] */
	const unreachable = (error) => {
		const { cause } = /** @type {{cause?: {code?: string, message?: string}}} */ (error ?? {});
		return new ApiError({
			code: "unreachable",
			status: 0,
			detail: `cannot reach ${baseUrl}${cause ? ` (${cause.code ?? cause.message})` : ""}`,
		});
	};
	// Paths are absolute, so they replace any path of --url (as `new URL(path, baseUrl)` would).
	const root = URL.canParse(baseUrl) ? new URL("/", baseUrl).href : undefined;
	/** @type {Record<string, string>} */
	const headers = { Accept: "application/json" };
	if (token) headers.Authorization = `Bearer ${token}`;
	/** @type {import("openapi-fetch").Client<paths>} */
	const client = createClient({ baseUrl: root, headers, fetch: fetchImpl });
	// Only a request that never got an answer lands here; problems are answers.
	client.use({ onError: ({ error }) => unreachable(error) });

	/**
	 * Wraps an openapi-fetch method (keeping its typed signature) so that it
	 * resolves with the Answer and rejects with an ApiError for every 4xx/5xx.
	 * @template {unknown[]} Args
	 * @template {FetchResult} Result
	 * @param {(...args: Args) => Promise<Result>} method
	 * @returns {(...args: Args) => Promise<Answer<Result>>}
	 */
	const answering =
		(method) =>
		async (...args) => {
			if (root === undefined) throw unreachable();
			const { data, error, response } = await method(...args);
			if (!response.ok) throw problemError(response, error);
			const body = /** @type {Exclude<Result["data"], undefined>} */ (data);
			return { status: response.status, body, headers: response.headers };
		};

	/**
	 * For callers that build paths themselves (the demo seeding): the same
	 * client, with nothing checked against the contract. Commands use the
	 * typed methods.
	 * @param {"GET" | "PUT" | "POST" | "DELETE"} method
	 * @param {string} path a concrete path, its segments encoded (see `segment`)
	 * @param {{body?: unknown}} [options] sent as JSON
	 * @returns {Promise<{status: number, body: any, headers: Headers}>}
	 */
	const request = (method, path, { body } = {}) =>
		answering(/** @type {any} */ (client).request)(method, path, { body });

	return {
		baseUrl,
		GET: answering(client.GET),
		PUT: answering(client.PUT),
		POST: answering(client.POST),
		DELETE: answering(client.DELETE),
		request,
	};
}

/** @typedef {ReturnType<typeof createApiClient>} ApiClient */

/** Percent-encodes one path segment (ids are safe, BDFs contain colons). */
export const segment = (/** @type {string | number} */ value) => encodeURIComponent(String(value));
