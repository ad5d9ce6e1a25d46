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

/** At most this many columns: wide enough for the tables, narrow enough for a side-by-side terminal. */
const maxLineWidth = 100;
/** A wrapped column keeps at least this width, however crowded the line. */
const minWrapWidth = 12;

/**
 * Prints rows as an aligned table with upper-case headings. The `wrap`
 * columns (long text such as CEL expressions) are wrapped at spaces so a line
 * fits the terminal, at most 100 columns.
 * @param {Array<Record<string, unknown>>} rows
 * @param {string[]} columns
 * @param {{wrap?: string[]}} [options]
 */
export function printTable(rows, columns, { wrap = [] } = {}) {
	const headings = columns.map((column) =>
		column.replace(/([a-z])([A-Z][a-z])/g, "$1 $2").toUpperCase(),
	);
	const cells = rows.map((row) => columns.map((column) => cellText(row[column])));
	const natural = columns.map((_, index) =>
		Math.max(headings[index]?.length ?? 0, ...cells.map((row) => row[index]?.length ?? 0)),
	);
	const widths = fitWidths(
		natural,
		columns.map((column) => wrap.includes(column)),
		Math.min(process.stdout.columns || maxLineWidth, maxLineWidth),
	);
	const printRow = (/** @type {string[]} */ texts) => {
		const wrapped = texts.map((text, index) => wrapText(text, widths[index] ?? text.length));
		const height = Math.max(...wrapped.map((lines) => lines.length));
		for (let line = 0; line < height; line += 1) {
			const parts = wrapped.map((lines, index) => (lines[line] ?? "").padEnd(widths[index] ?? 0));
			console.log(parts.join("  ").trimEnd());
		}
	};
	printRow(headings);
	for (const row of cells) printRow(row);
	if (rows.length === 0) console.log("(none)");
}

/** A table cell: `-` for nothing, a list as its items. */
function cellText(/** @type {unknown} */ value) {
	if (value === undefined || value === null) return "-";
	return Array.isArray(value) ? value.join(", ") : String(value);
}

/**
 * Column widths that fit `lineWidth`: fixed columns keep their natural
 * width, wrappable ones share the rest, narrowest first, so a short one is
 * never wrapped to give room it does not use.
 * @param {number[]} natural
 * @param {boolean[]} wrappable
 * @param {number} lineWidth
 */
function fitWidths(natural, wrappable, lineWidth) {
	const widths = [...natural];
	const flexible = natural.map((_, index) => index).filter((index) => wrappable[index]);
	const fixed = natural.reduce((sum, width, index) => (wrappable[index] ? sum : sum + width), 0);
	let room = lineWidth - fixed - 2 * (natural.length - 1);
	flexible.sort((a, b) => (natural[a] ?? 0) - (natural[b] ?? 0));
	flexible.forEach((index, position) => {
		const share = Math.floor(room / (flexible.length - position));
		widths[index] = Math.max(minWrapWidth, Math.min(natural[index] ?? 0, share));
		room -= widths[index] ?? 0;
	});
	return widths;
}

/**
 * Splits text into lines of at most `width`: at spaces where it can; a word
 * too long for a line after its last `.`, `,` or `(` that fits (CEL paths and
 * calls), else at the width.
 */
function wrapText(/** @type {string} */ text, /** @type {number} */ width) {
	/** @type {string[]} */
	const lines = [];
	let line = "";
	for (const word of text.split(" ")) {
		const candidate = line === "" ? word : `${line} ${word}`;
		if (candidate.length <= width) {
			line = candidate;
			continue;
		}
		if (line !== "") lines.push(line);
		line = word;
		while (line.length > width) {
			const punctuation = Math.max(
				...[".", ",", "("].map((mark) => line.lastIndexOf(mark, width - 1)),
			);
			const cut = punctuation > 0 ? punctuation + 1 : width;
			lines.push(line.slice(0, cut));
			line = line.slice(cut);
		}
	}
	lines.push(line);
	return lines;
}

/**
 * Prints an object as aligned `key: value` lines, for people: nested objects
 * indented under their key, lists as their items, sizes in MiB with their unit.
 * @param {Record<string, unknown>} record
 */
export function printRecord(record) {
	for (const line of recordLines(record, "")) console.log(line);
}

const isObject = (/** @type {unknown} */ value) =>
	typeof value === "object" && value !== null && !Array.isArray(value);

/** @returns {string[]} */
function recordLines(/** @type {Record<string, unknown>} */ record, /** @type {string} */ indent) {
	const entries = Object.entries(record).map(([key, value]) =>
		// `memoryMiB: 4096` reads as `memory: 4 GiB`; --json keeps the exact number.
		key.endsWith("MiB") && typeof value === "number"
			? [key.slice(0, -3), formatMiB(value)]
			: [key, value],
	);
	const width = Math.max(...entries.map(([key]) => String(key).length));
	return entries.flatMap(([key, value]) => {
		if (isObject(value) && Object.keys(/** @type {object} */ (value)).length > 0) {
			return [`${indent}${key}:`, ...recordLines(/** @type {any} */ (value), `${indent}  `)];
		}
		if (Array.isArray(value) && value.some(isObject)) {
			return [`${indent}${key}:`, ...value.flatMap((item) => listItemLines(item, `${indent}  `))];
		}
		const text =
			isObject(value) || (Array.isArray(value) && value.length === 0) ? "(none)" : cellText(value);
		return [`${indent}${`${key}:`.padEnd(width + 1)} ${text}`];
	});
}

/** One item of a list of objects: `- ` before its first line, the rest aligned under it. */
function listItemLines(/** @type {unknown} */ item, /** @type {string} */ indent) {
	if (!isObject(item)) return [`${indent}- ${cellText(item)}`];
	const [first = "", ...rest] = recordLines(/** @type {any} */ (item), `${indent}  `);
	return [`${indent}- ${first.trimStart()}`, ...rest];
}

const sizeUnits = ["MiB", "GiB", "TiB", "PiB"];

/** A size in MiB as people read it: 4096 → "4 GiB", 1536 → "1.5 GiB", 512 → "512 MiB". */
export function formatMiB(/** @type {number} */ miB) {
	let value = miB;
	let unit = 0;
	while (Math.abs(value) >= 1024 && unit < sizeUnits.length - 1) {
		value /= 1024;
		unit += 1;
	}
	return `${Number(value.toFixed(1))} ${sizeUnits[unit]}`;
}

const nameOrder = new Intl.Collator("en", { numeric: true });

/**
 * Rows ordered by a name, the way people scan a list: "web-9" before "web-10".
 * @template {Record<string, unknown>} Row
 * @param {Row[]} rows
 * @param {keyof Row & string} key
 * @returns {Row[]}
 */
export function sortedBy(rows, key) {
	return [...rows].sort((a, b) => nameOrder.compare(String(a[key]), String(b[key])));
}

/** Writes a secret to a file only its owner can read (also when it existed before). */
export async function writeSecretFile(/** @type {string} */ path, /** @type {string} */ text) {
	await writeFile(path, text, { mode: 0o600 });
	await chmod(path, 0o600);
}
