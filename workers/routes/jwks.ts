import { createRoute, z } from "@hono/zod-openapi";
import { type KeyRing, loadKeyRing } from "../../shared/jwe";
import { jsonContent, problemResponses } from "../../shared/schemas/openapi";
import { createRouter } from "../app";

const JwksSchema = z
	.object({
		keys: z.array(
			z.object({
				kty: z.literal("EC"),
				crv: z.literal("P-256"),
				x: z.string(),
				y: z.string(),
				kid: z.string(),
				alg: z.literal("ECDH-ES+A256KW"),
				use: z.literal("enc"),
			}),
		),
	})
	.openapi("Jwks");

let cached: { source: string; keyRing: Promise<KeyRing> } | undefined;

/**
 * The Worker's JWE key ring, parsed once per isolate and per value of the
 * secret (a rotated secret is picked up without a restart).
 */
export function keyRing(env: Env): Promise<KeyRing> {
	if (cached?.source !== env.JWE_PRIVATE_KEYS) {
		cached = { source: env.JWE_PRIVATE_KEYS, keyRing: loadKeyRing(env.JWE_PRIVATE_KEYS) };
	}
	return cached.keyRing;
}

const jwks = createRoute({
	method: "get",
	path: "/.well-known/jwks.json",
	operationId: "getJwks",
	security: [],
	tags: ["sessions"],
	summary: "Public keys to encrypt broadcast session requests to",
	description:
		"EC P-256 keys for ECDH-ES+A256KW; more than one may be listed during rotation, each accepted by its kid.",
	responses: {
		200: { description: "The key set", content: jsonContent(JwksSchema) },
		...problemResponses("rate_limited"),
	},
});

/** `GET /.well-known/jwks.json`. */
export const jwksRoutes = createRouter().openapi(jwks, async (c) => {
	const { publicKeys } = await keyRing(c.env);
	c.header("Cache-Control", "public, max-age=300");
	return c.json({ keys: publicKeys }, 200);
});
