/**
 * `npm start`: a Sesame node on embedded PGlite (a data directory under the project), or
 * on PostgreSQL when DATABASE_URL is set; seeded with demo data on first start.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createNode } from "./node.js";
import { seedDemo } from "./seed.js";
import { serveWebApp } from "./web.js";

const env = process.env;
const port = Number(env.PORT ?? 8787);
const host = env.HOST ?? "127.0.0.1";
const databaseUrl = env.DATABASE_URL || undefined;
const dataDir = resolve(env.SESAME_DATA_DIR ?? ".data/pglite");
if (databaseUrl === undefined) mkdirSync(dataDir, { recursive: true });

const node = await createNode({
  database: databaseUrl !== undefined ? { databaseUrl } : { pgliteDir: dataDir },
  config: {
    verify: {
      chain: env.SESAME_CHAIN ?? "solana:localnet",
      network: env.SESAME_NETWORK ?? "sesame-local",
    },
  },
  logger: env.SESAME_LOG === "1",
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

await node.app.listen({ port, host });
const base = `http://${host}:${port}`;
console.log(
  `Sesame node on ${node.ctx.storage.engine === "pglite" ? `PGlite (${dataDir})` : "PostgreSQL"}`,
);
if (web) console.log(`  web app   ${base}/`);
else console.log(`  (no web app build in ${webDir}: run npm run build)`);
console.log(`  API       ${base}/v1/feed`);
console.log(`  stream    ${base}/v1/stream`);
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
