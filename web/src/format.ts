/**
 * How the console writes numbers, sizes and times for people. Pure functions
 * (no DOM), so the rules are tested without a browser.
 */

/** `1 event`, `2 events`: a count with its noun in the right number. */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
	return `${count} ${count === 1 ? noun : pluralNoun}`;
}

/** Up to `digits` decimals, without trailing zeros: `29.62962…` → `29.6`, `30.0` → `30`. */
export function formatNumber(value: number, digits = 1): string {
	const factor = 10 ** digits;
	return String(Math.round(value * factor) / factor);
}

/** Formats a byte count for people. */
export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
	return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A memory size given in MiB, in the largest unit it fills: `512 MiB`, `4 GiB`, `1.5 TiB`. */
export function formatMemory(mebibytes: number): string {
	if (mebibytes < 1024) return `${formatNumber(mebibytes)} MiB`;
	if (mebibytes < 1024 * 1024) return `${formatNumber(mebibytes / 1024)} GiB`;
	return `${formatNumber(mebibytes / 1024 / 1024)} TiB`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A local date and time for an ISO string (or a dash): records outlive the day they were made. */
export function formatTime(iso: string | null | undefined): string {
	if (!iso) return "—";
	const date = new Date(iso);
	return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}
