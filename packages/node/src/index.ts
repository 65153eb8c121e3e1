export * from "./db/connect.js";
export type { Database } from "./db/schema.js";
export * from "./grants.js";
export * from "./ingest.js";
export * from "./revocations.js";
