import { createRouter } from "../app";

/** Routes for pci; see ../shared/API.md. */
export const pciRoutes = createRouter();
