// Proves the PCI math of shared/pci.ts against independent reference
// formulations: BDF parsing and formatting, VF routing ids with the carry into
// the bus number as Linux's pci_iov_virtfn_bus/devfn compute it, VF base
// addresses and offsets at the 64-bit limits, hex round trips and geometry
// validation. It does not prove anything about storage or HTTP.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	type Bdf,
	canonicalBdf,
	formatBdf,
	formatHex,
	functionConflict,
	geometryIssue,
	mappingOffset,
	parseBdf,
	parseHexAddress,
	parseSignedHex,
	routingId,
	type SriovGeometry,
	translateThrough,
	vfBaseAddress,
	vfBdf,
} from "../../shared/pci";

const twoTo64 = 1n << 64n;

const bdfArbitrary = fc.record({
	domain: fc.integer({ min: 0, max: 0xffff }),
	bus: fc.integer({ min: 0, max: 0xff }),
	device: fc.integer({ min: 0, max: 31 }),
	function: fc.integer({ min: 0, max: 7 }),
});

/** Linux: pci_iov_virtfn_bus / pci_iov_virtfn_devfn, with devfn = PCI_DEVFN(slot, func). */
function linuxVf(pf: Bdf, offset: number, stride: number, index: number) {
	const devfn = pf.device * 8 + pf.function;
	const bus = pf.bus + Math.floor((devfn + offset + stride * index) / 256);
	const vfDevfn = (devfn + offset + stride * index) % 256;
	return { bus, device: Math.floor(vfDevfn / 8), function: vfDevfn % 8 };
}

/** The next function in bus, device, function order; undefined after ff:1f.7. */
function successor(bdf: Bdf): Bdf | undefined {
	if (bdf.function < 7) return { ...bdf, function: bdf.function + 1 };
	if (bdf.device < 31) return { ...bdf, device: bdf.device + 1, function: 0 };
	if (bdf.bus < 0xff) return { ...bdf, bus: bdf.bus + 1, device: 0, function: 0 };
	return undefined;
}

/** Reference hex parser: one digit at a time, no BigInt(string). */
function referenceParseHex(text: string): bigint {
	let value = 0n;
	for (const digit of text.slice(2))
		value = value * 16n + BigInt("0123456789abcdef".indexOf(digit));
	return value;
}

/** A geometry whose BAR window fits 64 bits by construction. */
const geometryArbitrary = fc
	.record({
		totalVfs: fc.integer({ min: 1, max: 256 }),
		firstVfOffset: fc.integer({ min: 1, max: 512 }),
		vfStride: fc.integer({ min: 1, max: 16 }),
		sizeExponent: fc.integer({ min: 12, max: 40 }),
		baseFraction: fc.bigInt({ min: 0n, max: (1n << 20n) - 1n }),
	})
	.map(({ totalVfs, firstVfOffset, vfStride, sizeExponent, baseFraction }) => {
		const vfBarSize = 1n << BigInt(sizeExponent);
		const room = twoTo64 - BigInt(totalVfs) * vfBarSize;
		// Rounded down to the BAR size: a BAR is aligned to its size.
		const vfBarBase = (((room * baseFraction) >> 20n) / vfBarSize) * vfBarSize;
		return { totalVfs, firstVfOffset, vfStride, vfBarBase, vfBarSize } satisfies SriovGeometry;
	});

describe("BDF parsing and formatting", () => {
	it("round-trips every BDF through format and parse", () => {
		fc.assert(
			fc.property(bdfArbitrary, (bdf) => {
				expect(parseBdf(formatBdf(bdf))).toEqual(bdf);
			}),
		);
	});

	it("formats as zero-padded lowercase dddd:bb:dd.f and canonicalises upper case", () => {
		expect(formatBdf({ domain: 0, bus: 0x3b, device: 0x1f, function: 7 })).toBe("0000:3b:1f.7");
		expect(canonicalBdf("0000:3B:0A.1")).toBe("0000:3b:0a.1");
	});

	it("refuses device numbers over 31, functions over 7 and malformed text", () => {
		for (const text of [
			"0000:00:20.0",
			"0000:00:00.8",
			"00:00.0",
			"0000:00:00:0",
			"",
			"0000:0g:00.0",
		]) {
			expect(parseBdf(text)).toBeUndefined();
		}
	});

	it("numbers a domain's functions 0…0xffff in bus, device, function order, without gaps", () => {
		expect(routingId({ domain: 0, bus: 0, device: 0, function: 0 })).toBe(0);
		fc.assert(
			fc.property(bdfArbitrary, (bdf) => {
				const next = successor(bdf);
				if (next) expect(routingId(next)).toBe(routingId(bdf) + 1);
				else expect(routingId(bdf)).toBe(0xffff);
			}),
		);
	});

	it("computes the routing ids of known functions, worked by hand", () => {
		const known: Array<[string, number]> = [
			["0000:00:00.0", 0x0000],
			["0000:00:00.7", 0x0007],
			["0000:00:01.0", 0x0008],
			["0000:3b:1f.7", 0x3bff],
			["0000:3c:00.0", 0x3c00],
			["ffff:ff:1f.7", 0xffff],
		];
		for (const [text, rid] of known) expect(routingId(parseBdf(text) as Bdf), text).toBe(rid);
	});
});

describe("virtual function placement", () => {
	it("places every VF where Linux's pci_iov_virtfn_bus/devfn would, carrying into the bus", () => {
		fc.assert(
			fc.property(
				bdfArbitrary,
				fc.integer({ min: 1, max: 0xffff }),
				fc.integer({ min: 1, max: 0xffff }),
				fc.integer({ min: 0, max: 0xffff }),
				(pf, offset, stride, index) => {
					const geometry = {
						totalVfs: index + 1,
						firstVfOffset: offset,
						vfStride: stride,
						vfBarBase: 0n,
						vfBarSize: 1n,
					};
					const expected = linuxVf(pf, offset, stride, index);
					if (expected.bus > 255) {
						expect(() => vfBdf(pf, geometry, index)).toThrow(RangeError);
					} else {
						expect(vfBdf(pf, geometry, index)).toEqual({ domain: pf.domain, ...expected });
					}
				},
			),
		);
	});

	it("carries from devfn 0xff into the next bus", () => {
		const pf = { domain: 0, bus: 0x3b, device: 0x1f, function: 0 };
		const geometry = { totalVfs: 2, firstVfOffset: 8, vfStride: 1, vfBarBase: 0n, vfBarSize: 1n };
		expect(formatBdf(vfBdf(pf, geometry, 0))).toBe("0000:3c:00.0");
		expect(formatBdf(vfBdf(pf, geometry, 1))).toBe("0000:3c:00.1");
	});

	it("lays the VFs' BARs end to end from the VF BAR base, each aligned, the last inside 64 bits", () => {
		fc.assert(
			fc.property(
				bdfArbitrary.filter((pf) => pf.bus < 0xe0),
				geometryArbitrary,
				fc.nat(),
				(pf, geometry, seed) => {
					expect(geometryIssue(pf, geometry)).toBeUndefined();
					const { totalVfs, vfBarBase, vfBarSize } = geometry;
					expect(vfBaseAddress(geometry, 0)).toBe(vfBarBase);
					const index = seed % totalVfs;
					const base = vfBaseAddress(geometry, index);
					expect(base % vfBarSize).toBe(0n);
					// No gap and no overlap between neighbours.
					if (index + 1 < totalVfs)
						expect(vfBaseAddress(geometry, index + 1) - base).toBe(vfBarSize);
					const lastEnd = vfBaseAddress(geometry, totalVfs - 1) + vfBarSize - 1n;
					expect(lastEnd).toBeLessThan(twoTo64);
				},
			),
		);
	});

	it("puts known VFs' BARs at addresses worked by hand", () => {
		// The demo's E810: 128 KiB per VF from 0x38000000000; VF 5 starts 5 × 128 KiB in.
		const e810 = {
			totalVfs: 64,
			firstVfOffset: 16,
			vfStride: 1,
			vfBarBase: 0x380_0000_0000n,
			vfBarSize: 0x2_0000n,
		};
		expect(formatHex(vfBaseAddress(e810, 5))).toBe("0x380000a0000");
		expect(formatHex(vfBaseAddress(e810, 63))).toBe("0x380007e0000");
	});

	it("computes offset = base − virtual address, so translation lands inside the VF's BAR", () => {
		fc.assert(
			fc.property(
				fc.bigInt({ min: 0n, max: twoTo64 - (1n << 20n) }),
				fc.bigInt({ min: 0n, max: twoTo64 - (1n << 20n) }),
				fc.bigInt({ min: 0n, max: (1n << 20n) - 1n }),
				(base, virtualAddress, within) => {
					const size = 1n << 20n;
					const offset = mappingOffset(base, virtualAddress);
					expect(translateThrough(virtualAddress + within, { virtualAddress, size, offset })).toBe(
						base + within,
					);
					expect(
						translateThrough(virtualAddress + size, { virtualAddress, size, offset }),
					).toBeUndefined();
				},
			),
		);
	});
});

describe("hex addresses", () => {
	it("round-trips every 64-bit address and agrees with a digit-by-digit parser", () => {
		fc.assert(
			fc.property(fc.bigInt({ min: 0n, max: twoTo64 - 1n }), (address) => {
				const text = formatHex(address);
				expect(text).toMatch(/^0x[0-9a-f]+$/);
				expect(parseHexAddress(text)).toBe(address);
				expect(referenceParseHex(text)).toBe(address);
			}),
		);
	});

	it("reads leading zeros as the same address, however many", () => {
		fc.assert(
			fc.property(fc.bigInt({ min: 0n, max: twoTo64 - 1n }), fc.nat(8), (address, zeros) => {
				const padded = `0x${"0".repeat(zeros)}${address.toString(16).padStart(16, "0")}`;
				expect(parseHexAddress(padded)).toBe(address);
				expect(parseSignedHex(`-${padded}`)).toBe(-address);
			}),
		);
	});

	it("round-trips signed offsets as 0x… and -0x…", () => {
		fc.assert(
			fc.property(fc.bigInt({ min: -(twoTo64 - 1n), max: twoTo64 - 1n }), (offset) => {
				const text = formatHex(offset);
				expect(text.startsWith("-")).toBe(offset < 0n);
				expect(parseSignedHex(text)).toBe(offset);
			}),
		);
	});

	it("refuses addresses past 64 bits, negatives and non-hex text", () => {
		for (const text of ["0x10000000000000000", "-0x1", "0x", "1000", "0xfg", " 0x1"]) {
			expect(parseHexAddress(text)).toBeUndefined();
		}
		expect(parseHexAddress("0xFFFFFFFFFFFFFFFF")).toBe(twoTo64 - 1n);
	});
});

describe("geometry validation", () => {
	const pf = { domain: 0, bus: 0x3b, device: 0, function: 0 };
	const good: SriovGeometry = {
		totalVfs: 8,
		firstVfOffset: 128,
		vfStride: 2,
		vfBarBase: 0x8000_0000n,
		vfBarSize: 0x4000n,
	};

	it("accepts a realistic geometry", () => {
		expect(geometryIssue(pf, good)).toBeUndefined();
	});

	it("names totalVfs, vfStride and vfBarSize when they are out of range", () => {
		expect(geometryIssue(pf, { ...good, totalVfs: 0 })?.field).toBe("totalVfs");
		expect(geometryIssue(pf, { ...good, vfStride: 0 })?.field).toBe("vfStride");
		expect(geometryIssue(pf, { ...good, firstVfOffset: 0 })?.field).toBe("firstVfOffset");
		expect(geometryIssue(pf, { ...good, vfBarSize: 0x3000n })?.field).toBe("vfBarSize");
		expect(geometryIssue(pf, { ...good, vfBarSize: 0n })?.field).toBe("vfBarSize");
	});

	it("refuses a VF BAR window past 64 bits exactly at the limit", () => {
		const size = 0x1000n;
		const fitsExactly = { ...good, totalVfs: 4, vfBarSize: size, vfBarBase: twoTo64 - 4n * size };
		expect(geometryIssue(pf, fitsExactly)).toBeUndefined();
		const oneOver = { ...fitsExactly, vfBarBase: fitsExactly.vfBarBase + size };
		expect(geometryIssue(pf, oneOver)?.message).toContain("64 bits");
	});

	it("refuses a VF BAR base not aligned to the BAR size", () => {
		expect(geometryIssue(pf, { ...good, vfBarBase: good.vfBarBase + 0x800n })).toMatchObject({
			field: "vfBarBase",
			message: expect.stringContaining("aligned"),
		});
	});

	it("refuses a geometry whose last VF lands past bus 255, at the exact boundary", () => {
		const lastBusPf = { domain: 0, bus: 0xff, device: 0, function: 0 };
		const fits = { ...good, totalVfs: 128, firstVfOffset: 1, vfStride: 1 };
		expect(geometryIssue(lastBusPf, { ...fits, totalVfs: 255 })).toBeUndefined();
		expect(geometryIssue(lastBusPf, { ...fits, totalVfs: 256 })).toMatchObject({
			field: "totalVfs",
			message: expect.stringContaining("bus 255"),
		});
	});
});

describe("functions beside each other on one host", () => {
	const first = { domain: 0, bus: 0x3b, device: 0, function: 0 };
	const geometry: SriovGeometry = {
		totalVfs: 8,
		firstVfOffset: 0x80,
		vfStride: 2,
		vfBarBase: 0x8_0000_0000n,
		vfBarSize: 0x4000n,
	};
	const registered = [{ bdf: first, geometry }];
	const windowBytes = 8n * 0x4000n;

	it("fits a function on another bus whose VF BAR window starts where the other ends", () => {
		const second = { ...first, bus: 0x5e };
		const adjacent = { ...geometry, vfBarBase: geometry.vfBarBase + windowBytes };
		expect(functionConflict(second, adjacent, registered)).toBeUndefined();
	});

	it("refuses any VF BAR window that overlaps the other's, by a single BAR or more", () => {
		fc.assert(
			fc.property(fc.integer({ min: -7, max: 7 }), (shift) => {
				const second = { ...first, bus: 0x5e };
				const overlapping = {
					...geometry,
					vfBarBase: geometry.vfBarBase + BigInt(shift) * 0x4000n,
				};
				expect(functionConflict(second, overlapping, registered)).toMatchObject({
					field: "vfBarBase",
				});
			}),
		);
	});

	it("refuses a function at the routing id of another's VF, and one whose VFs take another's", () => {
		const elsewhere = { ...geometry, vfBarBase: geometry.vfBarBase + windowBytes };
		// VF 0 of 3b:00.0 is routing id 0x3b80: 3b:10.0.
		const atItsVf = { domain: 0, bus: 0x3b, device: 0x10, function: 0 };
		expect(functionConflict(atItsVf, elsewhere, registered)).toMatchObject({
			field: "firstVfOffset",
		});
		// 3b:01.0 (0x3b08) with offset 0x7a puts its VF 0 on 0x3b82: 3b:10.2, VF 1 of 3b:00.0.
		const besideIt = { domain: 0, bus: 0x3b, device: 1, function: 0 };
		expect(
			functionConflict(besideIt, { ...elsewhere, firstVfOffset: 0x7a, totalVfs: 1 }, registered),
		).toMatchObject({ field: "firstVfOffset" });
		// In another PCI domain the same ids are other devices.
		expect(functionConflict({ ...atItsVf, domain: 1 }, elsewhere, registered)).toBeUndefined();
	});
});
