/**
 * The CEL dialect of migration policies: one environment (standard library,
 * string extensions, `versionAtLeast`), compiled expressions, and evaluation
 * that never throws (a failure is a value, so a rule can fail safe).
 */
import {
	type CelInput,
	CelScalar,
	celEnv,
	celFunc,
	isCelError,
	isCelUint,
	parse,
	plan,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";

/** Compares dotted numeric versions ("9.2.1" ≥ "9.2"); non-numeric parts compare as 0. */
export function compareVersions(left: string, right: string): number {
	const leftParts = left.split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0);
	const rightParts = right.split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0);
	const length = Math.max(leftParts.length, rightParts.length);
	for (let index = 0; index < length; index++) {
		const difference = (leftParts[index] ?? 0) - (rightParts[index] ?? 0);
		if (difference !== 0) return Math.sign(difference);
	}
	return 0;
}

// CEL has no version type; hypervisor compatibility rules need an ordering.
const versionAtLeast = celFunc(
	"versionAtLeast",
	[CelScalar.STRING, CelScalar.STRING],
	CelScalar.BOOL,
	(version, minimum) => compareVersions(version, minimum) >= 0,
);

const environment = celEnv({ funcs: [...strings, versionAtLeast] });

/** Result of one evaluation: a value of the wanted kind, or why not. */
export type Evaluation<T> = { ok: true; value: T } | { ok: false; error: string };

/** A parsed and planned expression, reusable across evaluations. */
export type CompiledExpression = (bindings: Record<string, CelInput>) => Evaluation<unknown>;

/** Parses and plans an expression; throws an Error naming the syntax problem. */
export function compileExpression(source: string): CompiledExpression {
	const program = plan(environment, parse(source));
	return (bindings) => {
		try {
			const result = program(bindings);
			if (isCelError(result)) return { ok: false, error: result.message };
			return { ok: true, value: result };
		} catch (error) {
			return { ok: false, error: error instanceof Error ? error.message : String(error) };
		}
	};
}

/** Narrows a CEL value to a finite JS number (int, uint and double all count). */
export function asNumber(value: unknown): Evaluation<number> {
	if (typeof value === "number") {
		return Number.isNaN(value) ? { ok: false, error: "score is NaN" } : { ok: true, value };
	}
	if (typeof value === "bigint") return { ok: true, value: Number(value) };
	if (isCelUint(value)) return { ok: true, value: Number(value.value) };
	return { ok: false, error: `expected a number, got ${describeKind(value)}` };
}

/** Narrows a CEL value to a bool. */
export function asBool(value: unknown): Evaluation<boolean> {
	if (typeof value === "boolean") return { ok: true, value };
	return { ok: false, error: `expected a bool, got ${describeKind(value)}` };
}

function describeKind(value: unknown): string {
	if (value === null) return "null";
	if (typeof value === "string") return "string";
	if (typeof value === "object") return Array.isArray(value) ? "list" : "map or object";
	return typeof value;
}
