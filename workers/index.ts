import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { randomToken } from "../shared/crypto";
import { log } from "../shared/log";
import { Problem } from "../shared/problem";
import { type AppEnv, rejectInvalid } from "./app";
import { notFoundHandler, onError } from "./errors";
import { rateLimit } from "./middleware/rate-limit";
import { staticBundles } from "./middleware/static-bundles";
import { agentRoutes } from "./routes/agent";
import { consoleRoutes } from "./routes/console";
import { docsRoutes } from "./routes/docs";
import { healthRoutes } from "./routes/health";
import { hostRoutes } from "./routes/hosts";
import { jwksRoutes } from "./routes/jwks";
import { migrationRoutes } from "./routes/migrations";
import { pciRoutes } from "./routes/pci";
import { policyRoutes } from "./routes/policy";
import { recordingRoutes } from "./routes/recordings";
import { sessionRoutes } from "./routes/sessions";
import { vmRoutes } from "./routes/vms";
import { webhookRoutes } from "./routes/webhooks";

export { BroadcastDomain } from "../durable-objects/broadcast-domain";
export { Fleet } from "../durable-objects/fleet";
export { HostDevices } from "../durable-objects/host-devices";
export { PciDevice } from "../durable-objects/pci-device";
export { ServiceProcessor } from "../durable-objects/service-processor";
export { VirtualMachine } from "../durable-objects/virtual-machine";

const maxBodyBytes = 64 * 1024;

const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalid });

// The console's and the API reference's bundles, served as they were by the
// asset router before the API's middleware.
app.use(staticBundles());

// A request id a client sent (hono's X-Request-Id check) is kept; else
// Cloudflare's Ray ID, so an operator finds the request in Cloudflare's own
// logs; else an id unique for this isolate's life. Either is cheaper than a
// random UUID per request, which showed in CPU profiles.
const rayIdPattern = /^[\w-]{1,64}$/;
let isolateTag: string | undefined; // random values are refused at global scope
let requestCount = 0;
app.use(
	requestId({
		generator: (c) => {
			const rayId = c.req.header("cf-ray");
			if (rayId && rayIdPattern.test(rayId)) return rayId;
			isolateTag ??= randomToken(6);
			return `${isolateTag}-${(++requestCount).toString(36)}`;
		},
	}),
);
app.use(async function problemLog(c, next) {
	const startedAt = Date.now();
	await next();
	// Workers observability already records every invocation; our own line is
	// kept for refusals, where the request id and problem status help an
	// operator. Logging every success halved throughput under wrangler dev.
	if (c.res.status < 400) return;
	// Path only: query strings carry single-use channel tokens.
	log(c.res.status >= 500 ? "error" : "warn", "request refused", {
		requestId: c.get("requestId"),
		method: c.req.method,
		path: c.req.path,
		status: c.res.status,
		durationMs: Date.now() - startedAt,
	});
});
app.use(secureHeaders({ crossOriginResourcePolicy: false }));
app.use(
	bodyLimit({
		maxSize: maxBodyBytes,
		onError: () => {
			throw new Problem("payload_too_large", `request body exceeds ${maxBodyBytes} bytes`);
		},
	}),
);

// The public routes are for any origin: a user's device may be a web page
// elsewhere, and a spec viewer anywhere. Nothing here rides on cookies (the
// request's key is inside the JWE), so no credentials are allowed.
const publicCors = cors({
	origin: "*",
	allowMethods: ["GET", "POST"],
	allowHeaders: ["Content-Type"],
	exposeHeaders: ["Retry-After", "X-Request-Id"],
	maxAge: 600,
});
for (const path of ["/openapi.json", "/.well-known/jwks.json", "/v1/sessions"]) {
	app.use(path, publicCors);
}
// Routes anyone may call without a credential, limited per client address.
// POST /v1/sessions has a limit of its own (routes/sessions.ts); the other
// routes check a token or signature first, and agents legitimately send a lot.
// /healthz does no work worth guarding, and load balancers probe it often.
for (const path of ["/.well-known/jwks.json", "/openapi.json", "/docs", "/console"]) {
	app.use(path, rateLimit("PUBLIC_RATE_LIMIT"));
}

app.route("/", healthRoutes);
app.route("/", hostRoutes);
app.route("/", vmRoutes);
app.route("/", recordingRoutes);
app.route("/", sessionRoutes);
app.route("/", jwksRoutes);
app.route("/", agentRoutes);
app.route("/", webhookRoutes);
app.route("/", policyRoutes);
app.route("/", migrationRoutes);
app.route("/", pciRoutes);
app.route("/", consoleRoutes);

app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
	type: "http",
	scheme: "bearer",
	description: "The Worker's ADMIN_TOKEN secret",
});
app.openAPIRegistry.registerComponent("securitySchemes", "agentToken", {
	type: "http",
	scheme: "bearer",
	description: "A host's agentToken (shown once when the host is created)",
});
app.doc31("/openapi.json", {
	openapi: "3.1.0",
	// Relative: the document is served by the Worker it describes, on whatever origin.
	servers: [{ url: "/", description: "the Worker serving this document" }],
	info: {
		title: "Edgevisor",
		version: "1.0.0",
		description:
			"Edge control plane for virtual machines: key-gated console access, risk-appropriate migration validation, PCI virtual-function transfer.",
	},
});
app.route("/", docsRoutes);

app.onError(onError);
app.notFound(notFoundHandler(() => app.routes));

export default app satisfies ExportedHandler<Env>;
