import { createRouter } from "../app";

/** Routes for webhooks; see ../shared/API.md. */
export const webhookRoutes = createRouter();
