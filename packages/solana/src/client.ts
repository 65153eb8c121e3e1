/**
 * The browser-safe entry, `@sesame/solana/client`: the transaction builders, the flows,
 * chain access over JSON-RPC (`rpcChain`), decoded chain errors and tip verification.
 * Everything here runs in a browser (WebCrypto, fetch). The embedded LiteSVM chain (a
 * native module) and the Fastify plugin are only in the main entry, `@sesame/solana`.
 */
export * from "./accounts.js";
export type * from "./chain.js";
export * from "./constants.js";
export * from "./describe.js";
export * from "./errors.js";
export * from "./rpc-chain.js";
export * from "./session.js";
export * from "./transactions.js";
export * from "./verify-tip.js";
export {
  type DecodedWire,
  decodeWire,
  encodeWire,
  fromBase64,
  programsOfWire,
  toBase64,
} from "./wire.js";
