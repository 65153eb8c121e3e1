import type { Ed25519Backend, PolicyOptions, VerifyContext } from "@sesame/protocol";
import type { Chain, EmbeddedChain } from "@sesame/solana";
import type { Storage } from "./db/connect.js";
import type { Federation } from "./federation.js";
import type { GrantCache } from "./grants.js";
import type { Ingestor } from "./ingest.js";
import type { Metrics } from "./metrics.js";
import type { StreamHub } from "./stream.js";
import type { FundsOptions } from "./tips.js";

export interface NodeConfig {
  /** The chain and node network grants must be bound to; optional app domain allow-list. */
  readonly verify: VerifyContext;
  readonly policy: PolicyOptions;
  /** Largest request body, bytes. */
  readonly bodyLimit: number;
  /** Requests per IP per minute, counted in this process; 0 turns the limit off. */
  readonly rateLimitPerMinute: number;
  /**
   * Handler deadline, ms: a request not answered by then gets 6004 REQUEST_TIMEOUT (nothing
   * changed) or, for a write that may still commit, 6009 WRITE_OUTCOME_UNKNOWN.
   */
  readonly requestTimeoutMs: number;
  /** Live stream: most events read from the database at once for a catching-up reader. */
  readonly streamPageSize: number;
  /** Live stream: a reader whose connection buffer stays full this long (ms) is dropped. */
  readonly streamStallMs: number;
  /** Live stream: most open subscribers in this process (then 503 6008). */
  readonly streamMaxSubscribers: number;
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
  /** The funds tier's settings for a chain reached over RPC (see `FundsOptions`). */
  readonly funds?: FundsOptions;
  /** Pulls the peers' logs (federation); a node made by `createNode` always has one. */
  readonly federation?: Federation | undefined;
}
