import { createRouter } from "../app";
import { channelOrigin } from "./sessions";

/** The tab icon, inline (a data: URI, which the page's img-src allows), so it needs no route. */
const faviconSvg =
	"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>" +
	"<rect width='32' height='32' rx='6' fill='#0f172a'/>" +
	"<path d='M8 10l6 6-6 6M17 22h7' fill='none' stroke='#e2e8f0' stroke-width='3' stroke-linecap='round' stroke-linejoin='round'/>" +
	"</svg>";

/**
 * The web console's page. Why this shape: the Worker renders one static shell
 * (no data in it, so nothing to escape server-side and nothing to cache
 * per-user), and one esbuild bundle from web/src (xterm.js, jose, the views),
 * served as static assets at /console/app.js and /console/app.css, draws
 * everything from the public API with the admin token the user typed. No
 * server-side session, no framework, no extra privileged route.
 */
const shell = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edgevisor console</title>
<link rel="icon" type="image/svg+xml" href="data:image/svg+xml,${encodeURIComponent(faviconSvg)}">
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/app.js"></script>
</head>
<body>
<header class="topbar">
<strong class="brand">Edgevisor</strong>
<nav id="nav" hidden>
<a href="#/fleet">Fleet</a>
<a href="#/terminal">Terminal</a>
<a href="#/recordings">Recordings</a>
<a href="#/migrations">Migrations</a>
<a href="#/devices">Devices</a>
<button type="button" id="logout">Log out</button>
</nav>
</header>
<main id="view"><noscript>The Edgevisor console needs JavaScript.</noscript></main>
</body>
</html>
`;

/** The page's policy: only our own script and styles; API calls and channels to this origin. */
function contentSecurityPolicy(env: Env, requestUrl: string): string {
	return [
		"default-src 'none'",
		"script-src 'self'",
		// xterm.js's DOM renderer injects <style> elements for its cell metrics and theme.
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self'",
		`connect-src 'self' ${channelOrigin(env, requestUrl)}`,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	].join("; ");
}

/**
 * `GET /console`: the web console's shell page, and `GET /`, where a person
 * typing the bare address lands, sent on to it (neither is in the API document).
 */
export const consoleRoutes = createRouter()
	.get("/", (c) => c.redirect("/console", 302))
	.get("/console", (c) =>
		c.html(shell, 200, {
			"Content-Security-Policy": contentSecurityPolicy(c.env, c.req.url),
			"Cache-Control": "no-cache",
		}),
	);
