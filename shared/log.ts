/**
 * Structured JSON logs. Callers pass only non-secret fields: paths without
 * query strings (channel URLs carry tokens there), ids, codes, timings.
 */
export function log(
	level: "info" | "warn" | "error",
	message: string,
	fields: Record<string, unknown> = {},
): void {
	const line = JSON.stringify({ level, message, ...fields });
	if (level === "error") console.error(line);
	else if (level === "warn") console.warn(line);
	else console.log(line);
}
