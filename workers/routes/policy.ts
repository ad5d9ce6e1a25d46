import { createRouter } from "../app";

/** Routes for policy; see ../shared/API.md. */
export const policyRoutes = createRouter();
