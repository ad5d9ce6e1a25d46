// @ts-check
// The console of one simulated VM: a tiny line-oriented shell behind a virtual
// serial port. Input arrives as raw terminal bytes (the user's terminal is in
// raw mode), so the shell echoes, edits the line and answers with CRLF endings
// like a real serial console would.

const prompt = (/** @type {string} */ hostname) => `root@${hostname}:~# `;
const clearScreen = "\u001b[H\u001b[2J";
const topFrameIntervalMs = 1000;
const topFrameCount = 5;

/**
 * @typedef {object} VmShellOptions
 * @property {string} vmId the VM id, also its hostname
 * @property {number} memoryMiB memory shown by `free` and `top`
 * @property {number} vcpus CPUs shown by `nproc` and `top`
 * @property {(text: string) => void} write sends console output to the user
 * @property {() => void} close ends the console (the user typed `exit`)
 * @property {() => number} [now] clock in ms, for uptime
 * @property {Map<string, string>} [variables] the VM's shell variables (`NAME=value`, `$NAME`):
 *   the VM's state, so they live as long as the VM, wherever it runs, not as long as one console
 */

/** Builds the os-release file the simulated guests ship. */
const osRelease = [
	'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"',
	'NAME="Debian GNU/Linux"',
	'VERSION_ID="13"',
	'VERSION="13 (trixie)"',
	"ID=debian",
	'HOME_URL="https://www.debian.org/"',
].join("\r\n");

/**
 * A shell session on one VM. Feed it the user's bytes with `input()`; it
 * calls `write()` with everything the VM prints. `dispose()` stops any
 * streaming command.
 * @param {VmShellOptions} options
 */
export function createVmShell({
	vmId,
	memoryMiB,
	vcpus,
	write,
	close,
	now = Date.now,
	variables = new Map(),
}) {
	const bootedAtMs = now() - 3_600_000 * (1 + (hashOf(vmId) % 200));
	const decoder = new TextDecoder();
	let line = "";
	// A terminal sends CR for Enter, a pipe LF, some both: CR LF is one Enter.
	let previousWasCarriageReturn = false;
	// Inside a terminal's escape sequence (arrow keys send ESC [ A): its bytes are not typed text.
	let inEscape = /** @type {"none" | "started" | "csi"} */ ("none");
	/** @type {ReturnType<typeof setInterval> | undefined} */
	let streaming;

	const uptimeText = () => {
		const totalMinutes = Math.floor((now() - bootedAtMs) / 60_000);
		const days = Math.floor(totalMinutes / 1440);
		const hours = Math.floor((totalMinutes % 1440) / 60);
		const minutes = totalMinutes % 60;
		const clock = new Date(now()).toISOString().slice(11, 19);
		const daysText = days === 0 ? "" : `${days} day${days === 1 ? "" : "s"}, `;
		return `${clock} up ${daysText}${hours}:${String(minutes).padStart(2, "0")},  1 user,  load average: 0.08, 0.03, 0.01`;
	};

	// Every frame redraws the screen from its top-left corner, as top does.
	const topFrame = (/** @type {number} */ frame) => {
		const cpuBusy = (7 + ((frame * 13 + hashOf(vmId)) % 23)).toFixed(1);
		const usedMiB = Math.round(memoryMiB * (0.31 + (frame % 3) * 0.01));
		return [
			`${clearScreen}top - ${uptimeText()}`,
			`%Cpu(s): ${cpuBusy} us,  1.2 sy,  0.0 ni, ${(100 - Number(cpuBusy) - 1.2).toFixed(1)} id`,
			`MiB Mem : ${memoryMiB.toFixed(1)} total, ${(memoryMiB - usedMiB).toFixed(1)} free, ${usedMiB.toFixed(1)} used`,
			"    PID USER      %CPU %MEM COMMAND",
			`    812 app       ${(Number(cpuBusy) * 0.7).toFixed(1).padStart(4)}  12.3 node`,
			`    441 postgres  ${(Number(cpuBusy) * 0.2).toFixed(1).padStart(4)}   8.1 postgres`,
			"      1 root       0.0   0.1 systemd",
			"",
		].join("\r\n");
	};

	const stopStreaming = () => {
		if (streaming === undefined) return false;
		clearInterval(streaming);
		streaming = undefined;
		return true;
	};

	const startTop = () => {
		let frame = 0;
		write(topFrame(frame));
		streaming = setInterval(() => {
			frame += 1;
			write(topFrame(frame));
			if (frame + 1 >= topFrameCount) {
				stopStreaming();
				write(prompt(vmId));
			}
		}, topFrameIntervalMs);
	};

	/** @type {Record<string, (args: string[]) => string | undefined>} */
	const commands = {
		help: () =>
			"commands: help hostname uptime echo cat date uname whoami nproc free top clear exit; NAME=value sets a variable, echo $NAME shows it",
		hostname: () => vmId,
		uptime: () => ` ${uptimeText()}`,
		echo: (args) =>
			args
				.map((arg) =>
					arg.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name) => variables.get(name) ?? ""),
				)
				.join(" "),
		whoami: () => "root",
		nproc: () => String(vcpus),
		date: () => new Date(now()).toUTCString(),
		uname: (args) =>
			args.includes("-a")
				? `Linux ${vmId} 6.12.48-amd64 #1 SMP Debian 6.12.48-1 x86_64 GNU/Linux`
				: "Linux",
		free: () =>
			[
				"               total        used        free",
				`Mem:     ${String(memoryMiB).padStart(11)} ${String(Math.round(memoryMiB * 0.31)).padStart(11)} ${String(Math.round(memoryMiB * 0.69)).padStart(11)}`,
			].join("\r\n"),
		cat: (args) => {
			if (args[0] === "/etc/os-release") return osRelease;
			if (args[0] === "/etc/hostname") return vmId;
			return `cat: ${args[0] ?? ""}: No such file or directory`;
		},
		clear: () => clearScreen,
	};

	const run = (/** @type {string} */ commandLine) => {
		const [name, ...args] = commandLine.trim().split(/\s+/);
		if (!name) return write(prompt(vmId));
		const assignment = name.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
		if (assignment?.[1] && args.length === 0) {
			variables.set(assignment[1], assignment[2] ?? "");
			return write(prompt(vmId));
		}
		if (name === "exit" || name === "logout") {
			write("logout\r\n");
			return close();
		}
		if (name === "top") return startTop();
		const handler = commands[name];
		const output = handler ? handler(args) : `-bash: ${name}: command not found`;
		write(`${output}\r\n${prompt(vmId)}`);
	};

	return {
		/** The greeting a serial console shows when someone attaches. */
		banner() {
			write(`\r\nDebian GNU/Linux 13 ${vmId} ttyS0\r\n\r\n${prompt(vmId)}`);
		},
		/** Feeds raw terminal input (text or bytes) to the shell. */
		input(/** @type {string | Uint8Array} */ chunk) {
			const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
			for (const character of text) {
				if (streaming !== undefined) {
					// A streaming command owns the terminal until q or Ctrl-C.
					if (character === "q" || character === "\u0003") {
						stopStreaming();
						write(`\r\n${prompt(vmId)}`);
					}
					continue;
				}
				if (inEscape === "started") {
					inEscape = character === "[" || character === "O" ? "csi" : "none";
					continue;
				}
				if (inEscape === "csi") {
					// A CSI sequence ends with its final byte, @ to ~.
					if (character >= "@" && character <= "~") inEscape = "none";
					continue;
				}
				if (character === "\u001b") {
					inEscape = "started";
					continue;
				}
				const isLineFeedAfterEnter = character === "\n" && previousWasCarriageReturn;
				previousWasCarriageReturn = character === "\r";
				if (isLineFeedAfterEnter) continue;
				if (character === "\r" || character === "\n") {
					write("\r\n");
					const commandLine = line;
					line = "";
					run(commandLine);
				} else if (character === "\u007f" || character === "\b") {
					if (line.length > 0) {
						line = line.slice(0, -1);
						write("\b \b");
					}
				} else if (character === "\u0003") {
					line = "";
					write(`^C\r\n${prompt(vmId)}`);
				} else if (character === "\u0004" && line === "") {
					run("exit");
				} else if (character >= " ") {
					line += character;
					write(character);
				}
			}
		},
		/** Stops streaming output; the console is going away. */
		dispose() {
			stopStreaming();
		},
	};
}

/** A small stable hash so each VM's numbers differ but stay the same across runs. */
function hashOf(/** @type {string} */ text) {
	let hash = 7;
	for (const character of text) hash = (hash * 31 + character.charCodeAt(0)) % 1_000_003;
	return hash;
}
