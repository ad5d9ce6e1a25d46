import { createRouter } from "../app";

/**
 * The interactive API reference: Scalar's standalone bundle rendering
 * /openapi.json, served on the Worker's origin from its static bundles
 * (/docs/scalar.js, pinned and checked against its hash when built:
 * scripts/build-docs.mjs; ../middleware/static-bundles.ts), so the
 * page works without internet. The page shares its origin with the web
 * console, whose admin token sits in the tab's sessionStorage: its policy
 * lets only that reviewed, same-origin script run.
 */
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edgevisor API</title>
</head>
<body>
<div id="app"></div>
<script src="/docs/scalar.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
`;

const contentSecurityPolicy = [
	"default-src 'none'",
	"script-src 'self'",
	// The renderer injects its styles.
	"style-src 'self' 'unsafe-inline'",
	"img-src 'self' data:",
	"font-src 'self' data:",
	"connect-src 'self'",
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'",
].join("; ");

/** `GET /docs`: the API reference page (not part of the API document). */
export const docsRoutes = createRouter().get("/docs", (c) =>
	c.html(page, 200, {
		"Cache-Control": "no-cache",
		"Content-Security-Policy": contentSecurityPolicy,
	}),
);
