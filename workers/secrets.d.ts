// Secrets are not in wrangler.toml, so `wrangler types` cannot see them.
interface Env {
	/** Bearer token for admin routes. */
	ADMIN_TOKEN: string;
	/** JSON array of private EC P-256 JWKs with `kid`, newest first (JWE decryption keys). */
	JWE_PRIVATE_KEYS: string;
}
