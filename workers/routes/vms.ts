import { createRouter } from "../app";

/** Routes for vms; see ../shared/API.md. */
export const vmRoutes = createRouter();
