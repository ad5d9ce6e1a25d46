import { createRouter } from "../app";

/** Routes for hosts; see ../shared/API.md. */
export const hostRoutes = createRouter();
