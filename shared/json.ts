/**
 * JSON types of bounded depth. Durable Object RPC stub types map `unknown` to
 * `never` and give up on recursive types ("excessively deep"), so values that
 * cross RPC are typed with these instead.
 */

/** A JSON scalar. */
export type JsonScalar = string | number | boolean | null;

/** JSON one level deep: a scalar, a list of scalars, or a flat object. */
export type JsonLeaf =
	| JsonScalar
	| JsonScalar[]
	| { [key: string]: JsonScalar | JsonScalar[] | undefined };

/** JSON two levels deep: enough for webhook payloads and host facts. */
export type JsonData = JsonLeaf | JsonLeaf[] | { [key: string]: JsonLeaf | JsonLeaf[] | undefined };
