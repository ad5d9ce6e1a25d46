import { DurableObject } from "cloudflare:workers";

export class Fleet extends DurableObject<Env> {}
