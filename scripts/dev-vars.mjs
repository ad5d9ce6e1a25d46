// Reads and completes `.dev.vars`: generated secrets are added, values
// already there are kept. The file is made owner-only (0600) every time: one
// from an earlier version or made by hand may be world-readable.

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { generateJweKeySet } from "./jwe-keys.mjs";

/** Parses dotenv-style `KEY=value` lines, unquoting '…' and "…". */
export function parseDevVars(text) {
	const vars = {};
	for (const line of text.split(/\r?\n/)) {
		const match = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/);
		if (!match) continue;
		const [, key, raw] = match;
		vars[key] = raw.replace(/^'(.*)'$/s, "$1").replace(/^"(.*)"$/s, "$1");
	}
	return vars;
}

/** Ensures `path` holds ADMIN_TOKEN and JWE_PRIVATE_KEYS, owner-only; returns all its values. */
export async function ensureDevVars(path) {
	const exists = existsSync(path);
	// Before secrets are added to it, not after.
	if (exists) chmodSync(path, 0o600);
	const text = exists ? readFileSync(path, "utf8") : "";
	const vars = parseDevVars(text);
	const added = [];
	if (!vars.ADMIN_TOKEN) {
		vars.ADMIN_TOKEN = randomBytes(24).toString("base64url");
		added.push(`ADMIN_TOKEN=${vars.ADMIN_TOKEN}`);
	}
	if (!vars.JWE_PRIVATE_KEYS) {
		vars.JWE_PRIVATE_KEYS = await generateJweKeySet(1);
		added.push(`JWE_PRIVATE_KEYS='${vars.JWE_PRIVATE_KEYS}'`);
	}
	if (added.length > 0) {
		const separator = text === "" || text.endsWith("\n") ? "" : "\n";
		writeFileSync(path, `${text}${separator}${added.join("\n")}\n`, { mode: 0o600 });
	}
	return vars;
}
