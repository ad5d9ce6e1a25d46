import { DurableObject } from "cloudflare:workers";

export class PciDevice extends DurableObject<Env> {}
