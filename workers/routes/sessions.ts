import { createRouter } from "../app";

/** Routes for sessions; see ../shared/API.md. */
export const sessionRoutes = createRouter();
