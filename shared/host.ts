import type { HostInput } from "./schemas/hosts";

/** What an operator declares about a host (the PUT body) plus its id; records and risk rules build on it. */
export type HostDescription = HostInput & { hostId: string };
