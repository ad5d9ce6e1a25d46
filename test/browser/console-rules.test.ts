// Proves the web console's pure rules, in Node (no browser needed; kept with
// the console's tests): how counts, scores, memory and times are written,
// which hosts the migration form offers first, and how a live viewer's
// frames are joined to the recording so far without a frame written twice.
// Does not prove how any of it is drawn (the other files here do).
import { describe, expect, it } from "vitest";
import { catchUp, framesAfterOverlap } from "../../web/src/catch-up";
import { formatMemory, formatNumber, formatTime, plural } from "../../web/src/format";
import { targetHosts } from "../../web/src/migration-targets";
import type { HostRecord } from "../../web/src/types";

describe("formatting", () => {
	it("puts a count's noun in the right number", () => {
		expect(plural(1, "event")).toBe("1 event");
		expect(plural(0, "event")).toBe("0 events");
		expect(plural(2, "broadcast domain")).toBe("2 broadcast domains");
	});

	it("writes scores to one decimal, without a trailing zero", () => {
		expect(formatNumber(29.62962962962963)).toBe("29.6");
		expect(formatNumber(30)).toBe("30");
		expect(formatNumber(99.96)).toBe("100");
	});

	it("writes memory in the largest unit it fills", () => {
		expect(formatMemory(512)).toBe("512 MiB");
		expect(formatMemory(4096)).toBe("4 GiB");
		expect(formatMemory(1536)).toBe("1.5 GiB");
		expect(formatMemory(262_144)).toBe("256 GiB");
		expect(formatMemory(1_572_864)).toBe("1.5 TiB");
	});

	it("writes a time with its date", () => {
		expect(formatTime("2026-03-04T05:06:07Z")).toContain("2026");
		expect(formatTime(null)).toBe("—");
		expect(formatTime("not a time")).toBe("not a time");
	});
});

describe("migration targets", () => {
	const host = (hostId: string, fields: Partial<HostRecord> = {}) =>
		({ hostId, domain: "prod", site: "fra1", agentConnected: true, ...fields }) as HostRecord;

	it("never offers the VM's own host and puts connected hosts, then its domain and site, first", () => {
		const hosts = [
			host("newest-offline", { agentConnected: false }),
			host("other-site", { site: "ams1" }),
			host("other-domain", { domain: "lab" }),
			host("source"),
			host("same-site"),
		];
		expect(targetHosts(hosts, "source").map((option) => option.host.hostId)).toEqual([
			"same-site",
			"other-site",
			"other-domain",
			"newest-offline",
		]);
	});

	it("says which host's agent is disconnected", () => {
		const [option] = targetHosts([host("offline", { agentConnected: false })], "source");
		expect(option?.label).toBe("offline (prod, fra1) · agent disconnected");
	});
});

describe("live viewer catch-up", () => {
	it("drops the leading live frames the recording already ends with", () => {
		expect(framesAfterOverlap("abc$ ls\r\n", ["ls\r\n", "file\r\n"])).toEqual(["file\r\n"]);
		expect(framesAfterOverlap("abc", ["x", "y"])).toEqual(["x", "y"]);
		expect(framesAfterOverlap("", ["x"])).toEqual(["x"]);
		expect(framesAfterOverlap("abxy", ["x", "y"])).toEqual([]);
	});

	it("writes the recording first, then the held frames, then live frames as they come", () => {
		const written: string[] = [];
		const screen = catchUp((text) => written.push(text));
		screen.frame("two");
		screen.frame(new TextEncoder().encode("three"));
		screen.recorded("one two");
		screen.frame("four");
		expect(written).toEqual(["one two", "three", "four"]);
	});
});
