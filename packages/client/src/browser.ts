/** Browser entry: everything but the Node-only wallet and keystore. */
export * from "./index.js";
