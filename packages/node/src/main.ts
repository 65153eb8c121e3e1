/**
 * `npm start`: a Sesame node on embedded PGlite (a data directory under the project), or
 * on PostgreSQL when DATABASE_URL is set; seeded with demo data on first start.
 */
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { rpcChain } from "@sesame/solana";
import { isSchemaName } from "./db/connect.js";
import { parsePeers } from "./federation.js";
import { createNode } from "./node.js";
import { seedDemo } from "./seed.js";
import { serveWebApp } from "./web.js";

const env = process.env;

/** `{ [key]: n }` when the variable holds an integer ≥ min; exits on anything else. */
function numberFromEnv<K extends string>(key: K, name: string, min: number): { [P in K]?: number } {
  const raw = env[name];
  if (raw === undefined || raw === "") return {};
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`${name} must be an integer of at least ${min}, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return { [key]: n } as { [P in K]?: number };
}
/** Prints one line saying what went wrong (no stack: this is the operator's message) and exits. */
function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}
const port = Number(env.PORT || 8787);
if (!Number.isSafeInteger(port) || port < 0 || port > 65_535)
  fail(`PORT must be an integer from 0 to 65535, not ${JSON.stringify(env.PORT)}`, 2);
const host = env.HOST ?? "127.0.0.1";
const databaseUrl = env.DATABASE_URL || undefined;
// DATABASE_SCHEMA: the PostgreSQL schema to use (created if missing; default the
// connection's search_path), e.g. several independent nodes on one database.
const schema = env.DATABASE_SCHEMA || undefined;
if (schema !== undefined && databaseUrl === undefined) {
  console.error("DATABASE_SCHEMA names a PostgreSQL schema: set DATABASE_URL as well");
  process.exit(2);
}
if (schema !== undefined && !isSchemaName(schema)) {
  console.error(
    `DATABASE_SCHEMA must be 1 to 63 lower-case letters, digits or _ (not starting with a digit), not ${JSON.stringify(schema)}`,
  );
  process.exit(2);
}
// Federation settings are checked before anything is opened: a typo exits with code 2.
let peers: string[];
try {
  peers = parsePeers(env.SESAME_PEERS);
} catch (e) {
  console.error(
    `SESAME_PEERS must be http(s) URLs separated by commas or spaces: ${(e as Error).message}`,
  );
  process.exit(2);
}
const sync = {
  ...numberFromEnv("intervalMs", "SESAME_SYNC_INTERVAL_MS", 1),
  ...numberFromEnv("lateGraceMs", "SESAME_SYNC_LATE_GRACE_MS", 0),
  ...numberFromEnv("maxBackoffMs", "SESAME_SYNC_MAX_BACKOFF_MS", 1),
};
const dataDir = resolve(env.SESAME_DATA_DIR ?? ".data/pglite");
if (databaseUrl === undefined) mkdirSync(dataDir, { recursive: true });

/** DATABASE_URL as it may be printed: the password masked; the raw text if it does not parse. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(DATABASE_URL does not parse as a URL)";
  }
}

const node = await createNode({
  database:
    databaseUrl !== undefined
      ? { databaseUrl, ...(schema === undefined ? {} : { schema }) }
      : { pgliteDir: dataDir },
  config: {
    verify: {
      chain: env.SESAME_CHAIN ?? "solana:localnet",
      network: env.SESAME_NETWORK ?? "sesame-local",
    },
    ...numberFromEnv("requestTimeoutMs", "SESAME_REQUEST_TIMEOUT_MS", 1),
    ...numberFromEnv("rateLimitPerMinute", "SESAME_RATE_LIMIT_PER_MINUTE", 0),
    ...numberFromEnv("bodyLimit", "SESAME_BODY_LIMIT", 1024),
  },
  logger: env.SESAME_LOG === "1",
  // Action signatures are checked on worker threads (one per core, at most 4), so the
  // main thread decodes and commits meanwhile. SESAME_VERIFY_WORKERS=0 keeps them inline.
  verifyWorkers: Number(env.SESAME_VERIFY_WORKERS ?? Math.min(4, availableParallelism())),
  // The funds tier: an embedded LiteSVM chain served at /rpc, or any Solana RPC.
  chain: env.SOLANA_RPC_URL ? rpcChain(env.SOLANA_RPC_URL) : "embedded",
  // The embedded chain is journaled beside the database, so a restart keeps it.
  chainDir: resolve(env.SESAME_CHAIN_DIR ?? join(dataDir, "chain")),
  funds: {
    ...(env.SESAME_TIP_MINT ? { tipMint: env.SESAME_TIP_MINT } : {}),
    ...(env.SESAME_MEMO_PROGRAM ? { memoProgram: env.SESAME_MEMO_PROGRAM } : {}),
    ...(env.SOLANA_RPC_URL ? { rpcUrl: env.SESAME_PUBLIC_RPC_URL || env.SOLANA_RPC_URL } : {}),
  },
  // Federation: SESAME_PEERS=url,url; pulled every SESAME_SYNC_INTERVAL_MS (default 1000).
  peers,
  sync,
}).catch((e: unknown): never => {
  const reason = e instanceof Error ? e.message : String(e);
  const where =
    databaseUrl === undefined ? `PGlite in ${dataDir}` : `PostgreSQL at ${shownUrl(databaseUrl)}`;
  const hint = /user name/i.test(reason)
    ? " (name a user in DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test)"
    : "";
  return fail(`the node cannot start on ${where}: ${reason}${hint}`, 1);
});

if (env.SESAME_SEED !== "0") {
  const seed = await seedDemo(node.ctx);
  if (seed.seeded)
    console.log(
      `seeded demo data: ${seed.wallets.length} wallets with sessions, posts, replies, follows, reactions`,
    );
}

const webDir = resolve(
  env.SESAME_WEB_DIR ?? fileURLToPath(new URL("../../../apps/web/dist", import.meta.url)),
);
const web = await serveWebApp(node.app, webDir);

// The address listened on (PORT=0 picks a free port).
const base = await node.app.listen({ port, host }).catch(async (e: unknown): Promise<never> => {
  await node.close();
  return fail(`cannot listen on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`, 1);
});
console.log(
  `Sesame node on ${
    node.ctx.storage.engine === "pglite"
      ? `PGlite (${dataDir})`
      : `PostgreSQL${schema === undefined ? "" : ` (schema ${schema})`}`
  }`,
);
if (web) console.log(`  web app   ${base}/`);
else console.log(`  (no web app build in ${webDir}: run npm run build)`);
console.log(`  API       ${base}/v1/feed`);
if (node.ctx.embedded !== undefined)
  console.log(
    `  chain RPC ${base}/rpc (embedded LiteSVM; demo mint ${node.ctx.embedded.demoMint.address})`,
  );
console.log(`  stream    ${base}/v1/stream`);
if (node.ctx.federation !== undefined && node.ctx.federation.peers.length > 0)
  console.log(`  peers     ${node.ctx.federation.peers.join(", ")} (${base}/v1/peers)`);
console.log(`  OpenAPI   ${base}/openapi.json`);
console.log(`  health    ${base}/health    metrics ${base}/metrics`);

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    void node.close().then(() => process.exit(0));
  });
}
