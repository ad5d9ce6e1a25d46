// @ts-check
// The ids of the commands this agent has carried out. The server delivers
// at least once, so a command is run only if its id is new here; kept on
// disk (when a path is given) so a redelivery after an agent restart — a
// `migration.start` above all — is never carried out twice.
import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";

/** Enough ids to cover any redelivery window (commands wait at most 12 h); oldest go first. */
const rememberedIds = 10_000;

/** @param {string} [path] a file to keep the ids in, owner-only */
export function createCommandLog(path) {
	/** @type {Set<string>} */
	const ids = new Set();
	if (path) {
		try {
			for (const line of readFileSync(path, "utf8").split("\n")) if (line) ids.add(line);
		} catch {
			// No log yet: a first start.
		}
		trim();
		rewrite();
	}

	function trim() {
		for (const id of ids) {
			if (ids.size <= rememberedIds) break;
			ids.delete(id);
		}
	}

	function rewrite() {
		if (!path) return;
		writeFileSync(`${path}.tmp`, [...ids].map((id) => `${id}\n`).join(""), { mode: 0o600 });
		renameSync(`${path}.tmp`, path);
	}

	return {
		/** Records `id`; false when it was seen before (a redelivery). */
		add(/** @type {string} */ id) {
			if (ids.has(id)) return false;
			ids.add(id);
			if (path) {
				// Written before the command runs: a crash after this skips it, never repeats it.
				appendFileSync(path, `${id}\n`, { mode: 0o600 });
				if (ids.size > rememberedIds * 2) {
					trim();
					rewrite();
				}
			} else {
				trim();
			}
			return true;
		},
	};
}
