import { createRouter } from "../app";

/**
 * The interactive API reference: Scalar's standalone bundle rendering
 * /openapi.json. The bundle comes from a CDN at a pinned version with its
 * Subresource Integrity hash (taken from the npm tarball of that version,
 * which the CDN serves byte for byte): the page shares its origin with the
 * web console, whose admin token sits in the tab's sessionStorage, so no
 * script that was not reviewed may run here. Serving the 4.8 MB bundle
 * ourselves would mean installing ~480 packages to get one file.
 */
const scalarBundle = {
	url: "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.76.0/dist/browser/standalone.js",
	integrity: "sha384-oH1C0RwqcwbVXkC+r8A+4qRoyEUQdtxAzOwumkxZtQBBcsy61FOoPt7B50OVJYYQ",
};

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edgevisor API</title>
</head>
<body>
<div id="app"></div>
<script src="${scalarBundle.url}" integrity="${scalarBundle.integrity}" crossorigin="anonymous"></script>
<script>Scalar.createApiReference("#app", { url: "/openapi.json" });</script>
</body>
</html>
`;

/** `GET /docs`: the API reference page (not part of the API document). */
export const docsRoutes = createRouter().get("/docs", (c) =>
	c.html(page, 200, { "Cache-Control": "no-cache" }),
);
