// @ts-check
// A small client of the Edgevisor HTTP contract (shared/API.md): JSON in and
// out, admin bearer auth, and RFC 9457 problems turned into one error type.
// Used by the CLI and by the demo seeding.

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

/**
 * @typedef {object} RequestOptions
 * @property {unknown} [body] sent as JSON unless `rawBody` is given
 * @property {string} [rawBody] sent verbatim with `contentType`
 * @property {string} [contentType]
 * @property {boolean} [auth] send the admin token (default true)
 * @property {string} [accept] the Accept header; any type but JSON answers with the text as `body`
 */

/**
 * @param {{baseUrl: string, token?: string, fetchImpl?: typeof fetch}} options
 */
export function createApiClient({ baseUrl, token, fetchImpl = fetch }) {
	/**
	 * Sends a request; resolves with the parsed JSON body (undefined for 204)
	 * and the status, rejects with an ApiError for every 4xx/5xx.
	 * @param {string} method
	 * @param {string} path
	 * @param {RequestOptions} [options]
	 * @returns {Promise<{status: number, body: any, headers: Headers}>}
	 */
	async function request(
		method,
		path,
		{ body, rawBody, contentType, auth = true, accept = "application/json" } = {},
	) {
		/** @type {Record<string, string>} */
		const headers = { Accept: accept };
		if (auth && token) headers.Authorization = `Bearer ${token}`;
		let payload;
		if (rawBody !== undefined) {
			payload = rawBody;
			headers["Content-Type"] = contentType ?? "text/plain";
		} else if (body !== undefined) {
			payload = JSON.stringify(body);
			headers["Content-Type"] = "application/json";
		}
		let response;
		try {
			response = await fetchImpl(new URL(path, baseUrl), { method, headers, body: payload });
		} catch (error) {
			const { cause } = /** @type {{cause?: {code?: string, message?: string}}} */ (error);
			throw new ApiError({
				code: "unreachable",
				status: 0,
				detail: `cannot reach ${baseUrl}${cause ? ` (${cause.code ?? cause.message})` : ""}`,
			});
		}
		const text = await response.text();
		/** @type {any} */
		let parsed;
		try {
			parsed = text === "" ? undefined : JSON.parse(text);
		} catch {
			parsed = undefined;
		}
		if (!response.ok) {
			const retryAfter = Number(response.headers.get("retry-after"));
			throw new ApiError({
				code: typeof parsed?.code === "string" ? parsed.code : `http_${response.status}`,
				status: response.status,
				title: parsed?.title,
				detail: parsed?.detail ?? (parsed ? undefined : text.slice(0, 200)),
				retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
			});
		}
		const asText = accept !== "application/json";
		return { status: response.status, body: asText ? text : parsed, headers: response.headers };
	}
	return { baseUrl, token, request };
}

/** @typedef {ReturnType<typeof createApiClient>} ApiClient */

/** Percent-encodes one path segment (ids are safe, BDFs contain colons). */
export const segment = (/** @type {string | number} */ value) => encodeURIComponent(String(value));
