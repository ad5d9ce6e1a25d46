// @ts-check
// How the CLI talks back: tables or JSON on stdout, one-line errors on
// stderr, and exit codes a script can branch on.
import { chmod, writeFile } from "node:fs/promises";
import { ApiError } from "./api.mjs";

/** Exit codes; documented in `edgevisor --help` and the README. */
export const exitCodes = {
	ok: 0,
	failure: 1,
	usage: 2,
	unauthorized: 3,
	notFound: 4,
	conflict: 5,
	throttled: 6,
	unavailable: 7,
	operationFailed: 8,
};

/** An error the CLI reports as one line and exits with `exitCode`. */
export class CliError extends Error {
	/** @param {string} message @param {number} exitCode */
	constructor(message, exitCode) {
		super(message);
		this.exitCode = exitCode;
	}
}

/** The exit code for an API problem. */
export function exitCodeFor(/** @type {ApiError} */ error) {
	const { status } = error;
	if (status === 0 || status >= 500)
		return status === 503 ? exitCodes.throttled : exitCodes.unavailable;
	if (status === 401 || status === 403) return exitCodes.unauthorized;
	if (status === 404) return exitCodes.notFound;
	if (status === 409 || status === 422) return exitCodes.conflict;
	if (status === 429) return exitCodes.throttled;
	return exitCodes.usage;
}

/** Turns any thrown value into the one line and exit code the CLI ends with. */
export function describeFailure(/** @type {unknown} */ error) {
	if (error instanceof ApiError) return { line: error.toLine(), exitCode: exitCodeFor(error) };
	if (error instanceof CliError) return { line: error.message, exitCode: error.exitCode };
	const message = error instanceof Error ? error.message : String(error);
	return { line: message.replace(/\s+/g, " "), exitCode: exitCodes.failure };
}

/** Prints `value` as JSON (for `--json`) or through `render` for people. */
export function print(
	/** @type {boolean} */ json,
	/** @type {unknown} */ value,
	render = () => {},
) {
	if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
	else render();
}

/**
 * Prints rows as an aligned table with upper-case headings.
 * @param {Array<Record<string, unknown>>} rows
 * @param {string[]} columns
 */
export function printTable(rows, columns) {
	const cell = (/** @type {unknown} */ value) =>
		value === undefined || value === null ? "-" : String(value);
	const headings = columns.map((column) =>
		column.replace(/([a-z])([A-Z][a-z])/g, "$1 $2").toUpperCase(),
	);
	const widths = columns.map((column, index) =>
		Math.max(headings[index]?.length ?? 0, ...rows.map((row) => cell(row[column]).length)),
	);
	const line = (/** @type {string[]} */ cells) =>
		cells
			.map((text, index) => text.padEnd(widths[index] ?? 0))
			.join("  ")
			.trimEnd();
	console.log(line(headings));
	for (const row of rows) console.log(line(columns.map((column) => cell(row[column]))));
	if (rows.length === 0) console.log("(none)");
}

/** Prints an object as `key: value` lines, nested objects as JSON. */
export function printRecord(/** @type {Record<string, unknown>} */ record) {
	const width = Math.max(...Object.keys(record).map((key) => key.length));
	for (const [key, value] of Object.entries(record)) {
		const text =
			typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
		console.log(`${`${key}:`.padEnd(width + 1)} ${text}`);
	}
}

/** Writes a secret to a file only its owner can read (also when it existed before). */
export async function writeSecretFile(/** @type {string} */ path, /** @type {string} */ text) {
	await writeFile(path, text, { mode: 0o600 });
	await chmod(path, 0o600);
}
