/**
 * PCI address math for SR-IOV function transfer, as plain functions (no
 * Workers imports) so it is property-tested directly.
 *
 * Routing ids follow the PCIe spec: `bus << 8 | device << 3 | function`.
 * A VF's routing id is the PF's plus First VF Offset plus i × VF Stride, and
 * the sum carries into the bus number the way Linux's
 * `pci_iov_virtfn_bus`/`pci_iov_virtfn_devfn` do. Addresses are 64-bit and
 * handled as BigInt; on the wire they are hex strings (`0x…`, `-0x…`).
 */

/** The largest 64-bit address. */
export const maxAddress = (1n << 64n) - 1n;

/** The largest routing id (bus 255, device 31, function 7). */
export const maxRoutingId = 0xffff;

/** A PCI address `DDDD:BB:DD.F` as numbers. */
export interface Bdf {
	domain: number;
	bus: number;
	device: number;
	function: number;
}

/** The SR-IOV capability fields that place a PF's virtual functions. */
export interface SriovGeometry {
	totalVfs: number;
	firstVfOffset: number;
	vfStride: number;
	vfBarBase: bigint;
	vfBarSize: bigint;
}

/** A field of a geometry that fails validation, and why. */
export interface GeometryIssue {
	field: keyof SriovGeometry;
	message: string;
}

const bdfPattern = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
/** A hex address `0x…` of at most 64 bits; leading zeros do not count against the width. */
// Without regex flags: the OpenAPI document publishes the pattern, and a JSON Schema pattern has none.
export const unsignedHexPattern = /^0[xX]0*[0-9a-fA-F]{1,16}$/;
const signedHexPattern = /^-?0x0*[0-9a-f]{1,16}$/i;

/** Parses `DDDD:BB:DD.F` (hex, any case); undefined when malformed or device > 31. */
export function parseBdf(text: string): Bdf | undefined {
	const match = bdfPattern.exec(text);
	if (!match) return undefined;
	const [, domain = "", bus = "", device = "", fn = ""] = match;
	const deviceNumber = Number.parseInt(device, 16);
	if (deviceNumber > 31) return undefined;
	return {
		domain: Number.parseInt(domain, 16),
		bus: Number.parseInt(bus, 16),
		device: deviceNumber,
		function: Number.parseInt(fn, 16),
	};
}

function hexDigits(value: number, width: number): string {
	return value.toString(16).padStart(width, "0");
}

/** Formats a BDF in canonical lowercase `dddd:bb:dd.f`. */
export function formatBdf(bdf: Bdf): string {
	return `${hexDigits(bdf.domain, 4)}:${hexDigits(bdf.bus, 2)}:${hexDigits(bdf.device, 2)}.${bdf.function}`;
}

/** The canonical lowercase form of a BDF string, or undefined when malformed. */
export function canonicalBdf(text: string): string | undefined {
	const bdf = parseBdf(text);
	return bdf && formatBdf(bdf);
}

/** The 16-bit routing id of a function: bus << 8 | device << 3 | function. */
export function routingId(bdf: Bdf): number {
	return (bdf.bus << 8) | (bdf.device << 3) | bdf.function;
}

/** The BDF with routing id `rid` in `domain` (rid must be 0…0xffff). */
export function bdfFromRoutingId(domain: number, rid: number): Bdf {
	return { domain, bus: rid >> 8, device: (rid >> 3) & 31, function: rid & 7 };
}

/** Routing id of VF `index` (0-based): PF rid + First VF Offset + index × VF Stride. */
export function vfRoutingId(pf: Bdf, geometry: SriovGeometry, index: number): number {
	return routingId(pf) + geometry.firstVfOffset + index * geometry.vfStride;
}

/** The BDF of VF `index`; throws RangeError past bus 255 (validated geometries never do). */
export function vfBdf(pf: Bdf, geometry: SriovGeometry, index: number): Bdf {
	const rid = vfRoutingId(pf, geometry, index);
	if (rid > maxRoutingId) throw new RangeError(`VF ${index} routing id ${rid} is past bus 255`);
	return bdfFromRoutingId(pf.domain, rid);
}

/** The base address of VF `index`'s BAR: VF BAR base + index × VF BAR size. */
export function vfBaseAddress(geometry: SriovGeometry, index: number): bigint {
	return geometry.vfBarBase + BigInt(index) * geometry.vfBarSize;
}

/** The translation offset of a mapping: base − virtual address (may be negative). */
export function mappingOffset(baseAddress: bigint, virtualAddress: bigint): bigint {
	return baseAddress - virtualAddress;
}

/** True when `value` is a positive power of two. */
export function isPowerOfTwo(value: bigint): boolean {
	return value > 0n && (value & (value - 1n)) === 0n;
}

/**
 * The first problem with a geometry for the PF at `pf`, or undefined when it
 * is usable: at least one VF, stride and offset ≥ 1 (a VF never shares the
 * PF's routing id), a power-of-two BAR size, the whole VF BAR window inside
 * 64 bits and the last VF's routing id inside bus 255.
 */
export function geometryIssue(pf: Bdf, geometry: SriovGeometry): GeometryIssue | undefined {
	const { totalVfs, firstVfOffset, vfStride, vfBarBase, vfBarSize } = geometry;
	if (!Number.isInteger(totalVfs) || totalVfs < 1 || totalVfs > 0xffff) {
		return { field: "totalVfs", message: "must be an integer from 1 to 65535" };
	}
	if (!Number.isInteger(firstVfOffset) || firstVfOffset < 1 || firstVfOffset > 0xffff) {
		return { field: "firstVfOffset", message: "must be an integer from 1 to 65535" };
	}
	if (!Number.isInteger(vfStride) || vfStride < 1 || vfStride > 0xffff) {
		return { field: "vfStride", message: "must be an integer from 1 to 65535" };
	}
	if (!isPowerOfTwo(vfBarSize)) {
		return { field: "vfBarSize", message: "must be a power of two" };
	}
	if (vfBarBase < 0n || vfBarBase > maxAddress) {
		return { field: "vfBarBase", message: "must be a 64-bit address" };
	}
	if (vfBarBase % vfBarSize !== 0n) {
		return { field: "vfBarBase", message: "must be aligned to vfBarSize, as a BAR is" };
	}
	const windowEnd = vfBarBase + BigInt(totalVfs) * vfBarSize;
	if (windowEnd - 1n > maxAddress) {
		return {
			field: "vfBarSize",
			message: `the VF BAR window of ${totalVfs} × ${formatHex(vfBarSize)} from ${formatHex(vfBarBase)} does not fit in 64 bits`,
		};
	}
	const lastRid = vfRoutingId(pf, geometry, totalVfs - 1);
	if (lastRid > maxRoutingId) {
		return {
			field: "totalVfs",
			message: `the last VF's routing id ${formatHex(BigInt(lastRid))} overflows bus 255`,
		};
	}
	return undefined;
}

/** A physical function already registered on the host, as `functionConflict` compares it. */
export interface RegisteredFunction {
	bdf: Bdf;
	geometry: SriovGeometry;
}

/** Routing ids a PF and its VFs occupy, as a bitmap over 0…0xffff. */
function occupiedRoutingIds(pf: Bdf, geometry: SriovGeometry): Uint8Array {
	const occupied = new Uint8Array(maxRoutingId + 1);
	occupied[routingId(pf)] = 1;
	for (let index = 0; index < geometry.totalVfs; index++) {
		occupied[vfRoutingId(pf, geometry, index)] = 1;
	}
	return occupied;
}

/**
 * Why a (valid) PF cannot sit beside functions already on its host: its VF
 * BAR window overlaps one of theirs (two VMs' functions would decode the same
 * physical addresses), or it or one of its VFs takes a routing id one of them
 * or their VFs has. Undefined when it fits.
 */
export function functionConflict(
	pf: Bdf,
	geometry: SriovGeometry,
	registered: ReadonlyArray<RegisteredFunction>,
): GeometryIssue | undefined {
	const windowEnd = geometry.vfBarBase + BigInt(geometry.totalVfs) * geometry.vfBarSize;
	let occupied: Uint8Array | undefined;
	for (const other of registered) {
		const otherEnd =
			other.geometry.vfBarBase + BigInt(other.geometry.totalVfs) * other.geometry.vfBarSize;
		if (geometry.vfBarBase < otherEnd && other.geometry.vfBarBase < windowEnd) {
			return {
				field: "vfBarBase",
				message: `the VF BAR window overlaps that of ${formatBdf(other.bdf)}`,
			};
		}
		if (other.bdf.domain !== pf.domain) continue;
		occupied ??= occupiedRoutingIds(pf, geometry);
		const theirs = occupiedRoutingIds(other.bdf, other.geometry);
		if (occupied.some((taken, rid) => taken === 1 && theirs[rid] === 1)) {
			return {
				field: "firstVfOffset",
				message: `this function or its VFs would take routing ids of ${formatBdf(other.bdf)} or its VFs`,
			};
		}
	}
	return undefined;
}

/** Parses an unsigned `0x…` hex string of at most 64 bits; undefined otherwise. */
export function parseHexAddress(text: string): bigint | undefined {
	return unsignedHexPattern.test(text) ? BigInt(text.toLowerCase()) : undefined;
}

/** Parses a signed hex string (`0x…` or `-0x…`, magnitude ≤ 64 bits); undefined otherwise. */
export function parseSignedHex(text: string): bigint | undefined {
	if (!signedHexPattern.test(text)) return undefined;
	const negative = text.startsWith("-");
	const magnitude = BigInt(negative ? text.slice(1).toLowerCase() : text.toLowerCase());
	return negative ? -magnitude : magnitude;
}

/** Lowercase hex with `0x`, and `-0x…` for negative values. */
export function formatHex(value: bigint): string {
	return value < 0n ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/** Fixed-width (16 digit) hex of an address, so that text order is numeric order in an index. */
export function addressKey(address: bigint): string {
	return address.toString(16).padStart(16, "0");
}

/** True when the range [virtualAddress, virtualAddress + size) lies inside 64 bits. */
export function rangeFits(virtualAddress: bigint, size: bigint): boolean {
	return virtualAddress >= 0n && size > 0n && virtualAddress + size - 1n <= maxAddress;
}

/** The physical address of `address` through a mapping, or undefined when outside it. */
export function translateThrough(
	address: bigint,
	mapping: { virtualAddress: bigint; size: bigint; offset: bigint },
): bigint | undefined {
	if (address < mapping.virtualAddress || address >= mapping.virtualAddress + mapping.size) {
		return undefined;
	}
	return address + mapping.offset;
}
