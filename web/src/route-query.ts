/** The query part of the hash route (`#/terminal?vm=web-1` → `vm=web-1`). */
export function hashQuery(): URLSearchParams {
	const hash = location.hash;
	const start = hash.indexOf("?");
	return new URLSearchParams(start === -1 ? "" : hash.slice(start + 1));
}
