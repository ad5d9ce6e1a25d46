// @ts-check
// A small QMP client: JSON lines over QEMU's UNIX control socket.
//
// Hand-written on purpose: the Node QMP and libvirt packages on the registry
// are unmaintained or bind only lifecycle calls, and QMP itself is small —
// a greeting, `qmp_capabilities`, then commands answered in order by `id`,
// with asynchronous events in between (qemu's docs/interop/qmp-spec.rst).
import { EventEmitter } from "node:events";
import { createConnection } from "node:net";

/** Longest QMP line we accept; QEMU's answers here are a few KiB. */
const maxLineBytes = 4 * 1024 * 1024;

/** A command QEMU answered with `{error: {class, desc}}`. */
export class QmpError extends Error {
	/** @param {string} command @param {{class?: string, desc?: string}} error */
	constructor(command, error) {
		super(`${command}: ${error.desc ?? "failed"}`);
		this.errorClass = error.class;
	}
}

/**
 * Connects to a QMP socket, negotiates capabilities and resolves with the
 * client. Events arrive as `"event"` (`{event, data, timestamp}`); `"close"`
 * fires once when QEMU goes away.
 * @param {string} socketPath
 * @param {{timeoutMs?: number}} [options]
 */
export async function connectQmp(socketPath, { timeoutMs = 5_000 } = {}) {
	const socket = createConnection(socketPath);
	const events = new EventEmitter();
	/** @type {Map<number, {command: string, resolve: (value: any) => void, reject: (error: Error) => void}>} */
	const pending = new Map();
	let nextId = 1;
	let buffered = "";
	let closed = false;
	/** @type {(greeting: unknown) => void} */
	let greeted = () => {};
	const greeting = new Promise((resolve) => {
		greeted = resolve;
	});

	const fail = (/** @type {Error} */ error) => {
		for (const call of pending.values()) call.reject(error);
		pending.clear();
	};
	socket.setEncoding("utf8");
	socket.on("data", (/** @type {string} */ chunk) => {
		buffered += chunk;
		if (buffered.length > maxLineBytes) {
			socket.destroy(new Error("QMP line too long"));
			return;
		}
		for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
			const line = buffered.slice(0, newline).trim();
			buffered = buffered.slice(newline + 1);
			if (line) receive(line);
		}
	});
	socket.on("error", (error) => fail(error));
	socket.on("close", () => {
		closed = true;
		fail(new Error("QMP connection closed"));
		events.emit("close");
	});

	/** @param {string} line */
	function receive(line) {
		/** @type {any} */
		let message;
		try {
			message = JSON.parse(line);
		} catch {
			return;
		}
		if (message.QMP) return greeted(message.QMP);
		if (message.event) return events.emit("event", message);
		const call = pending.get(message.id);
		if (!call) return;
		pending.delete(message.id);
		if (message.error) call.reject(new QmpError(call.command, message.error));
		else call.resolve(message.return);
	}

	/**
	 * Runs one command; resolves with its `return`, rejects with `QmpError`.
	 * @param {string} command
	 * @param {Record<string, unknown>} [args]
	 * @returns {Promise<any>}
	 */
	function execute(command, args) {
		if (closed) return Promise.reject(new Error("QMP connection closed"));
		const id = nextId++;
		return new Promise((resolve, reject) => {
			pending.set(id, { command, resolve, reject });
			socket.write(
				`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`,
			);
		});
	}

	const timer = setTimeout(
		() => socket.destroy(new Error(`no QMP greeting within ${timeoutMs} ms`)),
		timeoutMs,
	);
	try {
		await Promise.race([
			greeting,
			new Promise((_resolve, reject) => {
				socket.once("error", reject);
				socket.once("close", () => reject(new Error("QMP connection closed before its greeting")));
			}),
		]);
		await execute("qmp_capabilities");
	} catch (error) {
		socket.destroy();
		throw error;
	} finally {
		clearTimeout(timer);
	}

	return {
		execute,
		events,
		/** Whether QEMU is still connected. */
		get closed() {
			return closed;
		},
		/**
		 * Resolves with the first event named `name` that `accept` takes, or
		 * rejects after `timeoutMs` or when QEMU goes away.
		 * @param {string} name
		 * @param {number} timeoutMs
		 * @param {(data: any) => boolean} [accept]
		 * @returns {Promise<any>}
		 */
		waitForEvent(name, timeoutMs, accept = () => true) {
			return new Promise((resolve, reject) => {
				const onEvent = (/** @type {any} */ message) => {
					if (message.event !== name || !accept(message.data ?? {})) return;
					done();
					resolve(message.data ?? {});
				};
				const onClose = () => {
					done();
					reject(new Error(`QEMU went away before ${name}`));
				};
				const timer = setTimeout(() => {
					done();
					reject(new Error(`no ${name} within ${timeoutMs} ms`));
				}, timeoutMs);
				const done = () => {
					clearTimeout(timer);
					events.off("event", onEvent);
					events.off("close", onClose);
				};
				events.on("event", onEvent);
				events.on("close", onClose);
			});
		},
		close() {
			socket.destroy();
		},
	};
}

/** @typedef {Awaited<ReturnType<typeof connectQmp>>} QmpClient */
