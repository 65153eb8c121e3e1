export * from "./dm.js";
export * from "./keys.js";
export * from "./node-api.js";
export * from "./session-manager.js";
export * from "./social-client.js";
export * from "./stores/indexeddb.js";
export * from "./stores/memory.js";
export * from "./wallet.js";
