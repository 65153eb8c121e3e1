export * from "./accounts.js";
export type * from "./chain.js";
export * from "./constants.js";
export {
  EmbeddedChain,
  type EmbeddedChainOptions,
  type Execution,
  type StoredTransaction,
} from "./embedded/chain.js";
export { feeOf } from "./embedded/fees.js";
export { handleRpc } from "./embedded/rpc.js";
export * from "./errors.js";
export * from "./fastify.js";
export * from "./rpc-chain.js";
export * from "./session.js";
export * from "./transactions.js";
export * from "./verify-tip.js";
export { type DecodedWire, decodeWire, encodeWire, fromBase64, toBase64 } from "./wire.js";
