import type { Ed25519Backend } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import type { NodeConfig, NodeContext } from "./context.js";
import { type DatabaseOptions, openDatabase } from "./db/connect.js";
import { GrantCache } from "./grants.js";
import { Ingestor } from "./ingest.js";
import { Metrics } from "./metrics.js";
import { type App, buildServer } from "./server.js";
import { StreamHub } from "./stream.js";

export const DEFAULT_CONFIG: NodeConfig = Object.freeze({
  verify: { chain: "solana:localnet", network: "sesame-local" },
  policy: {},
  bodyLimit: 1024 * 1024,
  rateLimitPerMinute: 6000,
  requestTimeoutMs: 30_000,
});

export interface NodeOptions {
  readonly database?: DatabaseOptions;
  readonly config?: Partial<NodeConfig>;
  readonly backend?: Ed25519Backend;
  readonly clock?: () => number;
  readonly logger?: boolean;
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
  const config: NodeConfig = { ...DEFAULT_CONFIG, ...options.config };
  const storage = await openDatabase(options.database);
  const backend = options.backend ?? nodeEd25519();
  const clock = options.clock ?? Date.now;
  const metrics = new Metrics();
  const grants = new GrantCache(storage.db);
  const stream = new StreamHub(storage.db);
  await stream.start();
  const ingest = new Ingestor(storage.db, grants, backend, {
    policy: config.policy,
    clock,
    onCommit: (logId) => stream.notify(logId),
  });
  const unlisten = await storage.listen("sesame_log", (payload) => {
    const logId = Number(payload);
    stream.notify(Number.isSafeInteger(logId) && logId > 0 ? logId : undefined);
  });
  metrics.gauge(
    "sesame_stream_subscribers",
    "Open live-stream connections",
    () => stream.subscriberCount,
  );
  const ctx: NodeContext = { config, storage, backend, grants, ingest, stream, metrics, clock };
  const app = await buildServer(ctx, { logger: options.logger ?? false });
  return {
    app,
    ctx,
    async close() {
      await app.close();
      await unlisten();
      await storage.close();
    },
  };
}
