// @ts-check
// What every CLI command gets: the API client built from the global options
// (--url/EDGEVISOR_URL, --token/EDGEVISOR_TOKEN), the --json switch, and an
// action wrapper that turns failures into one stderr line and an exit code.
import { InvalidArgumentError } from "commander";
import { createApiClient } from "./api.mjs";
import { CliError, describeFailure, exitCodes } from "./output.mjs";

/** @typedef {{url: string, token?: string, json?: boolean}} GlobalOptions */
/** @typedef {{api: import("./api.mjs").ApiClient, json: boolean, options: GlobalOptions}} CommandContext */

/**
 * Wraps a command body: builds its context from the global options, runs it,
 * and sets the exit code (the body may return one).
 * @template {unknown[]} Args
 * @param {(context: CommandContext, ...args: Args) => Promise<number | undefined | void>} body
 * @param {{admin?: boolean}} [requirements]
 * @returns {(...args: any[]) => Promise<void>}
 */
export function action(body, { admin = true } = {}) {
	return async (...args) => {
		const command = /** @type {import("commander").Command} */ (args.at(-1));
		const options = /** @type {GlobalOptions} */ (command.optsWithGlobals());
		try {
			if (admin && !options.token)
				throw new CliError(
					"no admin token: pass --token or set EDGEVISOR_TOKEN",
					exitCodes.unauthorized,
				);
			const api = createApiClient({ baseUrl: options.url, token: options.token });
			const context = { api, json: options.json === true, options };
			const exitCode = await body(context, .../** @type {Args} */ (args.slice(0, -1)));
			process.exitCode = exitCode ?? exitCodes.ok;
		} catch (error) {
			const { line, exitCode } = describeFailure(error);
			process.stderr.write(`edgevisor: ${line}\n`);
			process.exitCode = exitCode;
		}
	};
}

/** Parses a positive whole number option. */
export function positiveInteger(/** @type {string} */ value) {
	const number = Number(value);
	if (!Number.isSafeInteger(number) || number <= 0)
		throw new InvalidArgumentError("expected a positive whole number");
	return number;
}

/** Parses a whole number option (zero allowed). */
export function wholeNumber(/** @type {string} */ value) {
	const number = Number(value);
	if (!Number.isSafeInteger(number) || number < 0)
		throw new InvalidArgumentError("expected a whole number");
	return number;
}

/** Parses a hex address option (`0x…`), kept as the string the API expects. */
export function hexAddress(/** @type {string} */ value) {
	if (!/^-?0x[0-9a-fA-F]{1,16}$/.test(value))
		throw new InvalidArgumentError('expected a hex address like "0x7f0000000000"');
	return value;
}
