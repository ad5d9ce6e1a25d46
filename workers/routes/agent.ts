import { createRouter } from "../app";

/** Routes for agent; see ../shared/API.md. */
export const agentRoutes = createRouter();
