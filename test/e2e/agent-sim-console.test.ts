// Proves the simulated VM console and migration plan behave like the real
// things they stand in for: a serial-console shell (echo, line editing, CRLF,
// the documented commands, streaming `top` that redraws, escape sequences
// ignored, honest uptime) and converging pre-copy rounds.
// Pure Node, no server; the protocol against the Worker is in agent-sim.test.ts.
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { planMigration } from "../../agent/migration-plan.mjs";
// @ts-expect-error plain ESM module (typed by JSDoc, checked by tsconfig.tools.json)
import { createVmShell } from "../../agent/vm-shell.mjs";

type Step = { phase: string; round: number; copiedMiB: number; percent: number };

function shellFor(vmId: string) {
	let output = "";
	let closed = false;
	const shell = createVmShell({
		vmId,
		memoryMiB: 4096,
		vcpus: 2,
		write: (text: string) => {
			output += text;
		},
		close: () => {
			closed = true;
		},
	});
	return {
		shell,
		type: (text: string) => shell.input(text),
		take: () => {
			const taken = output;
			output = "";
			return taken;
		},
		isClosed: () => closed,
	};
}

afterEach(() => {
	vi.useRealTimers();
});

describe("simulated VM console", () => {
	it("greets with the VM's hostname in the prompt", () => {
		const console = shellFor("web-1");
		console.shell.banner();
		expect(console.take()).toMatch(/root@web-1:~# $/);
	});

	it("echoes typed characters and answers hostname with CRLF line ends", () => {
		const console = shellFor("db-7");
		console.type("hostname\r");
		expect(console.take()).toBe("hostname\r\ndb-7\r\nroot@db-7:~# ");
	});

	it("treats CR LF from a pipe as one Enter", () => {
		const console = shellFor("vm-a");
		console.type("echo hi\r\n");
		expect(console.take()).toBe("echo hi\r\nhi\r\nroot@vm-a:~# ");
	});

	it("erases the last character on backspace", () => {
		const console = shellFor("vm-b");
		console.type("echo abx\u007fc\r");
		expect(console.take()).toContain("\r\nabc\r\n");
	});

	it("prints the os-release file", () => {
		const console = shellFor("vm-c");
		console.type("cat /etc/os-release\r");
		expect(console.take()).toContain('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"');
	});

	it("answers an unknown command like bash does", () => {
		const console = shellFor("vm-d");
		console.type("frobnicate\r");
		expect(console.take()).toContain("-bash: frobnicate: command not found");
	});

	it("lists its commands on help", () => {
		const console = shellFor("vm-e");
		console.type("help\r");
		expect(console.take()).toMatch(/hostname.*uptime.*echo.*cat.*top/);
	});

	it("streams top frames until q is pressed, each redrawing the screen", () => {
		vi.useFakeTimers();
		const console = shellFor("vm-f");
		console.type("top\r");
		vi.advanceTimersByTime(2000);
		// Each frame starts by homing the cursor and clearing the screen, as top does.
		expect(console.take().split("\u001b[H\u001b[2Jtop - ")).toHaveLength(4);
		console.type("q");
		vi.advanceTimersByTime(5000);
		expect(console.take()).toBe("\r\nroot@vm-f:~# ");
	});

	it("ignores the escape sequences of arrow and function keys instead of typing them", () => {
		const console = shellFor("vm-h");
		console.type("ech\u001b[A\u001b[D\u001bOPo ok\r");
		expect(console.take()).toBe("echo ok\r\nok\r\nroot@vm-h:~# ");
	});

	it("counts uptime in days only once there are any, and one day in the singular", () => {
		const bootedAgo = (vmId: string, nowMs: number) => {
			const shell = createVmShell({
				vmId,
				memoryMiB: 1024,
				vcpus: 1,
				write: (text: string) => {
					output += text;
				},
				close: () => {},
				now: () => nowMs,
			});
			let output = "";
			shell.input("uptime\r");
			return output;
		};
		// The shell derives its boot time from the VM id: 1 to 200 hours before the clock.
		const texts = ["a", "b", "c", "d", "e", "f", "g", "h"].map((id) => bootedAgo(`vm-${id}`, 1e12));
		for (const text of texts) {
			expect(text).not.toMatch(/\b1 days\b|\b0 days\b/);
			expect(text).toMatch(/ up (\d+ days?, )?\d+:\d\d, /);
		}
	});

	it("closes the console on exit", () => {
		const console = shellFor("vm-g");
		console.type("exit\r");
		expect(console.isClosed()).toBe(true);
	});
});

describe("simulated migration plan", () => {
	it("ends with a stop-and-copy step at 100 percent after monotonic progress", () => {
		fc.assert(
			fc.property(fc.integer({ min: 256, max: 1_048_576 }), (memoryMiB) => {
				const steps: Step[] = planMigration({ memoryMiB });
				const percents = steps.map((step) => step.percent);
				expect(percents).toEqual([...percents].sort((a, b) => a - b));
				expect(steps.at(-1)).toMatchObject({ phase: "stop-and-copy", percent: 100 });
			}),
		);
	});

	it("needs more pre-copy rounds for a bigger, busier guest", () => {
		const small: Step[] = planMigration({ memoryMiB: 2048 });
		const large: Step[] = planMigration({ memoryMiB: 131_072 });
		expect(large.length).toBeGreaterThan(small.length);
	});

	it("pauses the guest for at most the threshold when the copy converges", () => {
		const steps: Step[] = planMigration({ memoryMiB: 65_536, stopCopyThresholdMiB: 64 });
		expect(steps.at(-1)?.copiedMiB).toBeLessThanOrEqual(64);
	});

	it("gives up pre-copy when the guest dirties memory faster than the link copies", () => {
		const steps: Step[] = planMigration({
			memoryMiB: 8192,
			bandwidthMiBps: 100,
			dirtyRateMiBps: 400,
		});
		expect(steps.map((step) => step.phase)).toEqual(["pre-copy", "stop-and-copy"]);
	});
});
