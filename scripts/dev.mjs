// `npm run dev`: the running system on http://localhost:8787 (PORT overrides).
// Writes missing secrets to .dev.vars, starts wrangler dev with local
// SQLite-backed Durable Objects under .wrangler/state, then prints how to use it.
import { fileURLToPath } from "node:url";
import { ensureDevVars } from "./dev-vars.mjs";
import { startWranglerDev } from "./wrangler-dev.mjs";

const devVarsPath = fileURLToPath(new URL("../.dev.vars", import.meta.url));
const port = Number(process.env.PORT ?? 8787);

const vars = await ensureDevVars(devVarsPath);
const server = await startWranglerDev({ port, inherit: true, timeoutMs: 180_000 });
const localUrl = `http://localhost:${port}`;

console.log(`
Edgevisor is running at ${localUrl}
  API reference  ${localUrl}/docs
  OpenAPI        ${localUrl}/openapi.json
  Admin token    ${vars.ADMIN_TOKEN}

  export EDGEVISOR_URL=${localUrl} EDGEVISOR_TOKEN=${vars.ADMIN_TOKEN}
`);

for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, async () => {
		await server.stop();
		process.exit(0);
	});
}
await new Promise((resolve) => server.child.once("exit", resolve));
