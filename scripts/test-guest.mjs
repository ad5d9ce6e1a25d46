// @ts-check
// Builds, on the fly and cached between runs, the tiny Linux guest that the
// host-agent tests boot in real QEMU. The test machines have no KVM, so QEMU
// runs under TCG, where every boot second counts:
//
// - the kernel is Debian's `linux-image-*-cloud-amd64`, which has the virtio and
//   serial drivers built in and little else, so it boots quickly; its .deb is
//   fetched with `apt-get download` and unpacked with `dpkg-deb -x` (nothing is
//   installed);
// - the initramfs is a gzip'd newc cpio written here, holding the static
//   `/bin/busybox` of `busybox-static` and an `/init` that mounts proc, sys and
//   devtmpfs, sets the hostname `edgevisor-guest`, prints a ready line and runs
//   an interactive shell (prompt `guest# `) on ttyS0 in a respawn loop.
//
// The guest needs no disk: boot it with `-kernel`, `-initrd` and `-append`
// (`testGuestAppend`). Files are cached in
// `${XDG_CACHE_HOME:-$HOME/.cache}/edgevisor/test-guest/<kernel package version>/`
// as `vmlinuz` and `initrd.gz`; a build happens in a temporary folder that is
// renamed into place, so concurrent test workers never see half a file. With a
// cache in place, apt is not touched at all.
//
// Standalone: `node scripts/test-guest.mjs` builds and prints the JSON result.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import {
	access,
	copyFile,
	mkdir,
	mkdtemp,
	readdir,
	readFile,
	rename,
	rm,
	stat,
	writeFile,
} from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

const run = promisify(execFile);

/** Kernel command line the tests boot the guest with. */
export const testGuestAppend = "console=ttyS0 quiet";

/** Printed by `/init` on the serial console once the guest is up. */
export const testGuestReadyLine = "edgevisor-guest ready";

/** The shell prompt on ttyS0. */
export const testGuestPrompt = "guest# ";

/** The meta-package whose dependency names the concrete cloud kernel package. */
const kernelMetaPackage = "linux-image-cloud-amd64";
const busyboxPath = "/bin/busybox";

const initScript = `#!/bin/sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=vt100 PS1='${testGuestPrompt}'
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
hostname edgevisor-guest
cd /root
echo "${testGuestReadyLine}"
while :; do
	setsid cttyhack sh
	echo "edgevisor-guest: shell exited, respawning"
	sleep 1
done
`;

/** Changes whenever the initramfs recipe does, so a stale cached initrd is rebuilt. */
const initrdRecipe = createHash("sha256").update(`newc-v1\n${initScript}`).digest("hex");

/** @typedef {{kernel: string, initrd: string, append: string}} TestGuest */

/** `${XDG_CACHE_HOME:-$HOME/.cache}/edgevisor/test-guest` */
function cacheRoot() {
	const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
	return join(base, "edgevisor", "test-guest");
}

/** @param {string} path */
async function exists(path) {
	try {
		await access(path, constants.R_OK);
		return true;
	} catch {
		return false;
	}
}

/**
 * Runs a tool, turning "not found" into a message naming the Debian package.
 * @param {string} command
 * @param {string[]} args
 * @param {{cwd?: string, debianPackage: string}} options
 */
async function tool(command, args, { cwd, debianPackage }) {
	try {
		const { stdout } = await run(command, args, {
			cwd,
			maxBuffer: 16 * 1024 * 1024,
			env: { ...process.env, LC_ALL: "C" },
		});
		return stdout;
	} catch (error) {
		const err = /** @type {NodeJS.ErrnoException & {stderr?: string}} */ (error);
		if (err.code === "ENOENT") {
			throw new Error(
				`test guest: \`${command}\` not found; install the Debian package ${debianPackage}`,
			);
		}
		const detail = (err.stderr ?? "").trim() || err.message;
		throw new Error(`test guest: \`${command} ${args.join(" ")}\` failed: ${detail}`);
	}
}

/** Fails with a clear message when a tool the tests need is missing. */
async function checkPrerequisites() {
	/** @type {[string, string][]} */
	const needed = [
		["qemu-system-x86_64", "qemu-system-x86"],
		["apt-get", "apt"],
		["apt-cache", "apt"],
		["dpkg-deb", "dpkg"],
	];
	const path = (process.env.PATH ?? "").split(":").filter(Boolean);
	const missing = [];
	for (const [command, debianPackage] of needed) {
		let found = false;
		for (const dir of path) {
			try {
				await access(join(dir, command), constants.X_OK);
				found = true;
				break;
			} catch {}
		}
		if (!found) missing.push(`${command} (Debian package ${debianPackage})`);
	}
	if (!(await exists(busyboxPath))) {
		missing.push(`${busyboxPath} (Debian package busybox-static)`);
	}
	if (missing.length > 0) {
		throw new Error(`test guest: missing ${missing.join(", ")}; install with apt-get install`);
	}
}

/** The static busybox binary; a dynamic one would not run inside the initramfs. */
async function readStaticBusybox() {
	const binary = await readFile(busyboxPath);
	// ELF64 little-endian: e_phoff at 0x20, e_phentsize at 0x36, e_phnum at 0x38; PT_INTERP = 3.
	const isElf64 = binary.readUInt32BE(0) === 0x7f454c46 && binary[4] === 2 && binary[5] === 1;
	if (!isElf64) throw new Error(`test guest: ${busyboxPath} is not an x86-64 ELF binary`);
	const phoff = Number(binary.readBigUInt64LE(0x20));
	const phentsize = binary.readUInt16LE(0x36);
	const phnum = binary.readUInt16LE(0x38);
	for (let i = 0; i < phnum; i++) {
		if (binary.readUInt32LE(phoff + i * phentsize) === 3) {
			throw new Error(
				`test guest: ${busyboxPath} is dynamically linked; install the Debian package busybox-static (it replaces busybox)`,
			);
		}
	}
	return binary;
}

/**
 * A newc ("070701") cpio archive, written directly so no root (mknod) or
 * `cpio` binary is needed.
 * @param {{name: string, mode: number, data?: Buffer, rdev?: [number, number]}[]} entries
 */
function newcArchive(entries) {
	/** @type {Buffer[]} */
	const parts = [];
	const pad = (/** @type {number} */ length) => Buffer.alloc((4 - (length % 4)) % 4);
	const all = [...entries, { name: "TRAILER!!!", mode: 0, data: Buffer.alloc(0) }];
	all.forEach((entry, index) => {
		const data = entry.data ?? Buffer.alloc(0);
		const name = Buffer.from(`${entry.name}\0`);
		const isDir = (entry.mode & 0o170000) === 0o040000;
		const fields = [
			entry.name === "TRAILER!!!" ? 0 : index + 1, // ino
			entry.mode,
			0, // uid
			0, // gid
			isDir ? 2 : 1, // nlink
			0, // mtime: reproducible
			data.length,
			0, // devmajor
			0, // devminor
			entry.rdev?.[0] ?? 0,
			entry.rdev?.[1] ?? 0,
			name.length,
			0, // check
		];
		const header = Buffer.from(
			`070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`,
		);
		parts.push(header, name, pad(header.length + name.length), data, pad(data.length));
	});
	return Buffer.concat(parts);
}

/** The gzip'd initramfs: busybox, /init, the folders it needs and /dev/console. */
async function buildInitrd() {
	const busybox = await readStaticBusybox();
	const dir = 0o040755;
	const file = 0o100644;
	const exe = 0o100755;
	const symlink = 0o120777;
	const archive = newcArchive([
		...[
			"bin",
			"sbin",
			"usr",
			"usr/bin",
			"usr/sbin",
			"proc",
			"sys",
			"dev",
			"etc",
			"tmp",
			"root",
		].map((name) => ({ name, mode: name === "tmp" ? 0o041777 : dir })),
		{ name: "dev/console", mode: 0o020600, rdev: [5, 1] },
		{ name: "bin/busybox", mode: exe, data: busybox },
		{ name: "bin/sh", mode: symlink, data: Buffer.from("busybox") },
		{ name: "etc/hostname", mode: file, data: Buffer.from("edgevisor-guest\n") },
		{ name: "init", mode: exe, data: Buffer.from(initScript) },
	]);
	return gzipSync(archive, { level: 9 });
}

/**
 * Writes `data` to `path` atomically (temporary file in the same folder, then rename).
 * @param {string} path
 * @param {Buffer | string} data
 */
async function writeAtomic(path, data) {
	const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
	await writeFile(temporary, data);
	await rename(temporary, path);
}

/**
 * A cached guest in `dir`, if complete; rebuilds a stale initrd in place (no apt).
 * @param {string} dir
 * @returns {Promise<TestGuest | undefined>}
 */
async function cachedGuest(dir) {
	const kernel = join(dir, "vmlinuz");
	const initrd = join(dir, "initrd.gz");
	if (!(await exists(kernel)) || !(await exists(initrd))) return undefined;
	const recipeFile = join(dir, "initrd.recipe");
	const recipe = await readFile(recipeFile, "utf8").catch(() => "");
	if (recipe.trim() !== initrdRecipe) {
		await writeAtomic(initrd, await buildInitrd());
		await writeAtomic(recipeFile, `${initrdRecipe}\n`);
	}
	return { kernel, initrd, append: testGuestAppend };
}

/** The newest complete guest in the cache, without asking apt. */
async function newestCachedGuest() {
	const root = cacheRoot();
	const names = await readdir(root).catch(() => /** @type {string[]} */ ([]));
	/** @type {{dir: string, mtime: number}[]} */
	const candidates = [];
	for (const name of names) {
		if (name.startsWith(".")) continue; // builds in progress
		const dir = join(root, name);
		const info = await stat(join(dir, "vmlinuz")).catch(() => undefined);
		if (info) candidates.push({ dir, mtime: info.mtimeMs });
	}
	candidates.sort((a, b) => b.mtime - a.mtime);
	for (const { dir } of candidates) {
		const guest = await cachedGuest(dir);
		if (guest) return guest;
	}
	return undefined;
}

/** The concrete kernel package `linux-image-cloud-amd64` depends on, and its candidate version. */
async function resolveKernelPackage() {
	const depends = await tool("apt-cache", ["depends", kernelMetaPackage], { debianPackage: "apt" });
	const name = /Depends:\s*(linux-image-\S+-cloud-amd64)\b/.exec(depends)?.[1];
	if (!name) {
		throw new Error(
			`test guest: \`apt-cache depends ${kernelMetaPackage}\` names no kernel package; run apt-get update (is a Debian main source configured?)`,
		);
	}
	const policy = await tool("apt-cache", ["policy", name], { debianPackage: "apt" });
	const version = /Candidate:\s*(\S+)/.exec(policy)?.[1];
	if (!version || version === "(none)") {
		throw new Error(`test guest: no candidate version of ${name}; run apt-get update`);
	}
	return { name, version };
}

/**
 * Builds the test guest (or returns the cached one) and returns the paths
 * QEMU needs: `-kernel kernel -initrd initrd -append append`.
 * @returns {Promise<TestGuest>}
 */
export async function buildTestGuest() {
	const cached = await newestCachedGuest();
	if (cached) return cached;

	await checkPrerequisites();
	const { name, version } = await resolveKernelPackage();
	const root = cacheRoot();
	const finalDir = join(root, version.replace(/[^A-Za-z0-9.+~-]/g, "_"));
	const existing = await cachedGuest(finalDir);
	if (existing) return existing;

	await mkdir(root, { recursive: true });
	const buildDir = await mkdtemp(join(root, ".build-"));
	const downloadDir = await mkdtemp(join(tmpdir(), "edgevisor-test-guest-"));
	try {
		await tool(
			"apt-get",
			["-q", "-o", "APT::Sandbox::User=root", "download", `${name}=${version}`],
			{
				cwd: downloadDir,
				debianPackage: "apt",
			},
		);
		const deb = (await readdir(downloadDir)).find((f) => f.endsWith(".deb"));
		if (!deb) throw new Error(`test guest: apt-get download ${name} produced no .deb`);
		const unpacked = join(downloadDir, "root");
		await tool("dpkg-deb", ["-x", join(downloadDir, deb), unpacked], { debianPackage: "dpkg" });
		const vmlinuz = (await readdir(join(unpacked, "boot"))).find((f) => f.startsWith("vmlinuz-"));
		if (!vmlinuz) throw new Error(`test guest: ${deb} holds no boot/vmlinuz-*`);

		await copyFile(join(unpacked, "boot", vmlinuz), join(buildDir, "vmlinuz"));
		await writeFile(join(buildDir, "initrd.gz"), await buildInitrd());
		await writeFile(join(buildDir, "initrd.recipe"), `${initrdRecipe}\n`);
		await writeFile(join(buildDir, "package"), `${name} ${version} ${vmlinuz}\n`);
		try {
			await rename(buildDir, finalDir);
		} catch (error) {
			const code = /** @type {NodeJS.ErrnoException} */ (error).code;
			// Another worker finished first: use its copy.
			if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
		}
	} finally {
		await rm(buildDir, { recursive: true, force: true });
		await rm(downloadDir, { recursive: true, force: true });
	}
	const built = await cachedGuest(finalDir);
	if (!built) throw new Error(`test guest: ${finalDir} is incomplete after the build`);
	return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	try {
		console.log(JSON.stringify(await buildTestGuest(), null, "\t"));
	} catch (error) {
		console.error(error instanceof Error ? error.message : error);
		process.exitCode = 1;
	}
}
