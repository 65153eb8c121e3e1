import type { Ed25519Backend, PolicyOptions, VerifyContext } from "@sesame/protocol";
import type { Chain, EmbeddedChain } from "@sesame/solana";
import type { Storage } from "./db/connect.js";
import type { Federation } from "./federation.js";
import type { GrantCache } from "./grants.js";
import type { Ingestor } from "./ingest.js";
import type { Metrics } from "./metrics.js";
import type { StreamHub } from "./stream.js";

export interface NodeConfig {
  /** The chain and node network grants must be bound to; optional app domain allow-list. */
  readonly verify: VerifyContext;
  readonly policy: PolicyOptions;
  /** Largest request body, bytes. */
  readonly bodyLimit: number;
  /** Requests per IP per minute. */
  readonly rateLimitPerMinute: number;
  /** Whole-request timeout, ms. */
  readonly requestTimeoutMs: number;
}

/** The one object that carries the node's services into every route handler. */
export interface NodeContext {
  readonly config: NodeConfig;
  readonly storage: Storage;
  readonly backend: Ed25519Backend;
  readonly grants: GrantCache;
  readonly ingest: Ingestor;
  readonly stream: StreamHub;
  readonly metrics: Metrics;
  readonly clock: () => number;
  /** The funds tier's chain, when this node verifies tips. */
  readonly chain: Chain | undefined;
  /** Set when the chain is the embedded one (served at /rpc, with a faucet). */
  readonly embedded: EmbeddedChain | undefined;
  /** Pulls the configured peers' logs (federation); undefined when there are none. */
  readonly federation?: Federation | undefined;
}
