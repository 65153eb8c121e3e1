/**
 * A real, listening Sesame node for the benchmarks, run as a separate process from the
 * built JavaScript (packages/node/dist). Started by bench/lib.ts with `fork`, so it takes
 * its options as one JSON argument and reports over IPC:
 *   {"engine":"pglite","pgliteDir":"/tmp/..."}  or  {"engine":"postgres","databaseUrl":"...","schema":"..."}
 *   plus optional "verifyWorkers" (number), "network", "chainDir" (the embedded chain),
 *   "peers" (URLs) and "sync" (options).
 * Messages: -> {type:"ready", port}; <- {type:"rss"} -> {type:"rss", rss}; <- {type:"close"}.
 * Listens on 127.0.0.1 only, on a free port.
 */
import { createNode } from "@sesame/node";

const options = JSON.parse(process.argv[2] ?? "{}");
const database =
  options.engine === "postgres"
    ? { databaseUrl: options.databaseUrl, schema: options.schema, poolSize: options.poolSize }
    : { pgliteDir: options.pgliteDir };

const node = await createNode({
  database,
  config: {
    verify: { chain: "solana:localnet", network: options.network ?? "sesame-bench" },
    // The load generator is one client sending as fast as it can: no per-IP limit here.
    rateLimitPerMinute: 1_000_000_000,
  },
  verifyWorkers: options.verifyWorkers ?? 0,
  ...(process.env.BENCH_INGEST ? { ingest: JSON.parse(process.env.BENCH_INGEST) } : {}),
  // "chainDir": the embedded chain, journaled there (what `npm start` runs).
  ...(options.chainDir ? { chain: "embedded", chainDir: options.chainDir } : {}),
  peers: options.peers ?? [],
  ...(options.sync ? { sync: options.sync } : {}),
});
await node.app.listen({ port: 0, host: "127.0.0.1" });
const address = node.app.server.address();
const send = (m) => process.send?.(m);
send({ type: "ready", port: typeof address === "object" && address !== null ? address.port : 0 });

let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await node.close();
  process.exit(0);
};
process.on("message", (m) => {
  if (m?.type === "rss") send({ type: "rss", rss: process.memoryUsage().rss });
  else if (m?.type === "close") void close();
});
// The parent died: do not outlive it.
process.on("disconnect", () => void close());
