/**
 * `@sesame/solana`: everything of the browser-safe entry (`@sesame/solana/client`), plus
 * the embedded LiteSVM chain (a native module) and its Fastify JSON-RPC plugin (Node only).
 */
export * from "./client.js";
export {
  EmbeddedChain,
  type EmbeddedChainOptions,
  type Execution,
  type StoredTransaction,
} from "./embedded/chain.js";
export { feeOf } from "./embedded/fees.js";
export { handleRpc } from "./embedded/rpc.js";
export * from "./fastify.js";
