import { DurableObject } from "cloudflare:workers";

export class BroadcastDomain extends DurableObject<Env> {}
