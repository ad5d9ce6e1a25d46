// @ts-check
// The seam between the agent's protocol core (./host-agent.mjs: control
// channel, acks, dedupe, reconnect, signed webhooks) and a hypervisor. A
// driver is as small as a storage adapter: facts, consoles, checks, the
// three steps of a live migration, cancel, and driver notifications. The
// simulator (./drivers/simulated.mjs) and QEMU (./qemu/driver.mjs) implement it.

/**
 * @typedef {import("zod").infer<typeof import("../shared/schemas/agent.ts").AgentCommand>} AgentCommand
 * @typedef {Extract<AgentCommand, {type: "validation.run"}>} ValidationRun
 * @typedef {Extract<AgentCommand, {type: "migration.start"}>} MigrationStart
 * @typedef {Extract<AgentCommand, {type: "migration.prepare"}>} MigrationPrepare
 * @typedef {Extract<AgentCommand, {type: "migration.transfer"}>} MigrationTransfer
 * @typedef {Extract<AgentCommand, {type: "migration.cancel"}>} MigrationCancel
 * @typedef {Extract<AgentCommand, {type: "vf.hold" | "vf.lift"}>} DriverNotification
 */

/**
 * What the core gives a driver: a signed webhook sender and the event stream
 * the agent logs and tests watch.
 * @typedef {object} DriverContext
 * @property {(type: string, data: unknown) => Promise<unknown>} report
 * @property {(event: {type: string, [field: string]: unknown}) => void} emit
 */

/**
 * A console the core bridges to a session's VM channel.
 * @typedef {object} ConsoleHandle
 * @property {(data: Buffer | string) => void} write input typed by the user
 * @property {() => void} close the session ended
 */

/**
 * @typedef {object} HostDriver
 * @property {(context: DriverContext) => Promise<void>} start
 * @property {() => Promise<void>} connected the control channel (re)opened: report facts
 * @property {(vmId: string, sinks: {output: (data: Buffer | string) => void, close: (reason: string) => void}, options?: {resume?: boolean, vm?: {memoryMiB: number, vcpus: number}}) => Promise<ConsoleHandle | {error: string}>} openConsole
 *   resolves once the VM's console can be used (a VM that is starting is waited for);
 *   `resume`: a session carried over from the VM's old host, not a new one
 * @property {(command: ValidationRun) => Promise<{ok: boolean, detail: string}>} check
 * @property {(command: MigrationStart) => Promise<void>} migrate as the source: begin moving the VM
 * @property {(command: MigrationPrepare) => Promise<void>} [prepare] as the target: start an incoming VM
 * @property {(command: MigrationTransfer) => Promise<void>} [transfer] as the source: copy to the ready target
 * @property {(command: MigrationCancel) => Promise<void>} cancel
 * @property {(command: DriverNotification) => void} notify
 * @property {() => Promise<void>} stop
 */

export {};
