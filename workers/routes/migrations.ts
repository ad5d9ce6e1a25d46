import { createRouter } from "../app";

/** Routes for migrations; see ../shared/API.md. */
export const migrationRoutes = createRouter();
