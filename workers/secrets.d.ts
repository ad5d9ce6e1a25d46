// Secrets are not in wrangler.toml, so `wrangler types` cannot see them.
interface Env {
	/** Bearer token for admin routes. */
	ADMIN_TOKEN: string;
	/** JSON array of private EC P-256 JWKs with `kid`, newest first (JWE decryption keys). */
	JWE_PRIVATE_KEYS: string;
	/**
	 * The Worker's public origin (`https://edgevisor.example.com`): channel URLs
	 * are built on it, never on a request's Host. Our `wrangler dev` runs set it;
	 * unset, a deployed Worker uses its route's hostname as Cloudflare received it.
	 */
	PUBLIC_ORIGIN?: string;
}
