import { DurableObject } from "cloudflare:workers";

export class ServiceProcessor extends DurableObject<Env> {}
