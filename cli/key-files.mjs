// @ts-check
// VM key files (one key per file, 0600) and the record of which key version
// each holds, `key-versions.json` beside them. The demo keeps its VMs' keys
// this way and, on each start, rotates a key whose version moved on without
// its file (someone rotated it elsewhere); `vms rotate-key` keeps the record
// in step when it writes into such a folder, so the demo sees a current file.
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { writeSecretFile } from "./output.mjs";

const recordName = "key-versions.json";

/**
 * The key version recorded for `keyFile`, or undefined when there is no record.
 * @param {string} keyFile
 * @returns {Promise<number | undefined>}
 */
export async function recordedKeyVersion(keyFile) {
	const record = await readRecord(dirname(keyFile));
	const version = record?.[basename(keyFile)];
	return typeof version === "number" ? version : undefined;
}

/**
 * Writes `key` to `keyFile` (0600) and, where the folder keeps a record
 * (or `startRecord`), its version.
 * @param {string} keyFile
 * @param {{key: string, keyVersion: number}} secret
 * @param {{startRecord?: boolean}} [options]
 */
export async function writeKeyFile(keyFile, { key, keyVersion }, { startRecord = false } = {}) {
	await writeSecretFile(keyFile, `${key}\n`);
	const folder = dirname(keyFile);
	const record = (await readRecord(folder)) ?? (startRecord ? {} : undefined);
	if (!record) return;
	record[basename(keyFile)] = keyVersion;
	await writeSecretFile(join(folder, recordName), `${JSON.stringify(record, null, "\t")}\n`);
}

/** @param {string} folder @returns {Promise<Record<string, unknown> | undefined>} */
async function readRecord(folder) {
	try {
		const parsed = JSON.parse(await readFile(join(folder, recordName), "utf8"));
		return parsed && typeof parsed === "object" ? parsed : undefined;
	} catch {
		return undefined;
	}
}
