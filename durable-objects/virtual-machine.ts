import { DurableObject } from "cloudflare:workers";

export class VirtualMachine extends DurableObject<Env> {}
