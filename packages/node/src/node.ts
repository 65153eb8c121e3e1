import type { Ed25519Backend } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { type Chain, EmbeddedChain } from "@sesame/solana";
import type { NodeConfig, NodeContext } from "./context.js";
import { type DatabaseOptions, logChannel, openDatabase } from "./db/connect.js";
import { Federation, type FederationOptions } from "./federation.js";
import { GrantCache } from "./grants.js";
import { Ingestor } from "./ingest.js";
import { Metrics } from "./metrics.js";
import { type App, buildServer } from "./server.js";
import { DEFAULT_STREAM_OPTIONS, StreamHub } from "./stream.js";
import { type FundsOptions, tipCheck } from "./tips.js";
import { VerifyPool } from "./verify-pool.js";

export const DEFAULT_CONFIG: NodeConfig = Object.freeze({
  verify: { chain: "solana:localnet", network: "sesame-local" },
  policy: {},
  bodyLimit: 1024 * 1024,
  rateLimitPerMinute: 6000,
  requestTimeoutMs: 30_000,
  streamPageSize: DEFAULT_STREAM_OPTIONS.pageSize,
  streamStallMs: DEFAULT_STREAM_OPTIONS.stallMs,
  streamMaxSubscribers: DEFAULT_STREAM_OPTIONS.maxSubscribers,
});

export interface NodeOptions {
  readonly database?: DatabaseOptions;
  readonly config?: Partial<NodeConfig>;
  readonly backend?: Ed25519Backend;
  readonly clock?: () => number;
  readonly logger?: boolean;
  /**
   * Worker threads that check action signatures (node:crypto), so the main thread decodes
   * and commits while they verify. 0 (the default) verifies on the main thread. Ignored
   * when `backend` is given.
   */
  readonly verifyWorkers?: number;
  /** Group-commit tuning of the write path (`IngestOptions`: most actions per commit, linger). */
  readonly ingest?: { readonly maxBatch?: number; readonly lingerMs?: number };
  /**
   * The funds tier's chain: an embedded LiteSVM chain (served at POST /rpc), any chain
   * behind the `Chain` interface (e.g. `rpcChain(SOLANA_RPC_URL)`), or none (tips refused).
   */
  readonly chain?: Chain | EmbeddedChain | "embedded" | null;
  /** Where the embedded chain journals itself (durable across restarts); else in memory. */
  readonly chainDir?: string;
  /** Tip mint, Memo program and client RPC URL for a chain reached over RPC. */
  readonly funds?: FundsOptions;
  /**
   * Federation: the peers whose logs this node pulls (base URLs), and how. Federated nodes
   * that verify tips must see one chain (e.g. `rpcChain` of one node's /rpc).
   */
  readonly peers?: readonly string[];
  readonly sync?: Omit<FederationOptions, "peers">;
}

export interface SesameNode {
  readonly app: App;
  readonly ctx: NodeContext;
  close(): Promise<void>;
}

/**
 * Opens storage (migrating it), wires the services into one context, and builds the
 * HTTP API. Commits in any process on the same database wake the live stream here.
 */
export async function createNode(options: NodeOptions = {}): Promise<SesameNode> {
  const merged: NodeConfig = { ...DEFAULT_CONFIG, ...options.config };
  const memoProgram = options.funds?.memoProgram;
  // A configured Memo program is the only one accepted for funded grants too.
  const config: NodeConfig =
    memoProgram === undefined
      ? merged
      : { ...merged, verify: { ...merged.verify, memoPrograms: [memoProgram] } };
  const storage = await openDatabase(options.database);
  const backend = options.backend ?? nodeEd25519();
  const clock = options.clock ?? Date.now;
  const metrics = new Metrics();
  const grants = new GrantCache(storage.db);
  const stream = new StreamHub(storage.db, {
    pageSize: config.streamPageSize,
    stallMs: config.streamStallMs,
    maxSubscribers: config.streamMaxSubscribers,
  });
  await stream.start();
  const chain =
    options.chain === "embedded"
      ? await EmbeddedChain.create(
          options.chainDir === undefined ? {} : { dataDir: options.chainDir },
        )
      : (options.chain ?? undefined);
  const workers = options.backend === undefined ? (options.verifyWorkers ?? 0) : 0;
  const pool = workers > 0 ? new VerifyPool(workers) : undefined;
  const ingest = new Ingestor(storage.db, grants, pool?.backend ?? backend, {
    ...options.ingest,
    policy: config.policy,
    clock,
    onCommit: (logId) => stream.notify(logId),
    tipCheck: tipCheck(storage.db, chain, options.funds),
    ...(options.sync?.lateGraceMs !== undefined
      ? { peerLateGraceMs: options.sync.lateGraceMs }
      : {}),
  });
  const unlisten = await storage.listen(await logChannel(storage.db), (payload) => {
    const logId = Number(payload);
    stream.notify(Number.isSafeInteger(logId) && logId > 0 ? logId : undefined);
  });
  metrics.gauge(
    "sesame_stream_subscribers",
    "Open live-stream connections",
    () => stream.subscriberCount,
  );
  metrics.gauge(
    "sesame_stream_readers_dropped",
    "Live-stream readers disconnected for falling behind (they resume by Last-Event-ID)",
    () => stream.stats.dropped,
  );
  const base = {
    config,
    storage,
    backend,
    grants,
    ingest,
    stream,
    metrics,
    clock,
    chain,
    embedded: chain instanceof EmbeddedChain ? chain : undefined,
    ...(options.funds === undefined ? {} : { funds: options.funds }),
  };
  // Always there: peers may also be added at run time (`POST /v1/peers`).
  const federation = new Federation(base, { ...options.sync, peers: options.peers ?? [] });
  const ctx: NodeContext = { ...base, federation };
  const app = await buildServer(ctx, { logger: options.logger ?? false });
  await federation.start();
  return {
    app,
    ctx,
    async close() {
      await federation.close();
      await app.close();
      await unlisten();
      await stream.close();
      await pool?.close();
      // A chain the node opened itself is closed with it (its journal flushed).
      if (options.chain === "embedded" && chain instanceof EmbeddedChain) await chain.close();
      await storage.close();
    },
  };
}
