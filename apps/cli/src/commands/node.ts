import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { NodeApi } from "@sesame/client";
import type { Command } from "commander";
import { throwawayActor } from "../actors.js";
import type { Context } from "../context.js";
import { dim, green } from "../output.js";
import { progressBar } from "../progress.js";
import { action } from "../run.js";
import { buildPolicy, DEFAULT_SCOPES } from "./session.js";

const PEOPLE = [
  { name: "Alice", bio: "Builds wallets. Thinks session keys should be boring." },
  { name: "Bob", bio: "Solana validator operator, occasional poet." },
  { name: "Carol", bio: "Writes about decentralized social media." },
  { name: "Dave", bio: "Here for the memes." },
];

const LINES = [
  "gm! One wallet prompt, then no more.",
  "Session keys that can only post, with a cap I chose.",
  "Revoked my old laptop's session from my phone. One click.",
  "Every post here is signed; anyone can check the caps were kept.",
  "Reading the grant text before signing is underrated.",
  "Federation means my grant works on every Sesame node.",
];

/**
 * Seeds demo data through the node's own HTTP API with the SDK: four wallets, each with
 * one session (one signature each), profiles, posts, replies, follows and reactions.
 */
export async function seedThroughApi(ctx: Context, url: string, posts: number): Promise<number> {
  const api = new NodeApi(url);
  const h = await api.health();
  const network = { chain: h.chain, network: h.network };
  if ((await api.feed({ limit: 1 })).items.length > 0) return 0;
  const policy = buildPolicy({ scopes: [...DEFAULT_SCOPES] });
  const total = PEOPLE.length * 2 + posts * 3;
  const bar = progressBar(ctx, "seeding", total);
  const actors = [];
  for (const person of PEOPLE) {
    const a = await throwawayActor(
      api,
      network,
      "demo.sesame.local",
      `${person.name}'s laptop`,
      policy,
    );
    await a.social.setProfile({ displayName: person.name, bio: person.bio });
    actors.push(a);
    bar.increment(2);
  }
  let n = 0;
  for (let i = 0; i < posts; i++) {
    const author = actors[i % actors.length];
    const other = actors[(i + 1) % actors.length];
    if (author === undefined || other === undefined) break;
    const r = await author.social.post(`${LINES[i % LINES.length]} (#${i + 1})`);
    n++;
    if (r.status === "accepted") {
      await other.social.reply(r.id, "Agreed, and it took no wallet prompt to say so.");
      await other.social.react(r.id, "like");
      n += 2;
    }
    bar.increment(3);
  }
  for (const a of actors) for (const b of actors) if (a !== b) await a.social.follow(b.address);
  bar.stop();
  return n;
}

export function nodeCommands(program: Command): void {
  const node = program.command("node").description("run a Sesame node");
  node
    .command("start")
    .description("run a node: PGlite in a data directory by default, or PostgreSQL")
    .option("--port <n>", "port to listen on (0: any free one)", (v) => Number.parseInt(v, 10))
    .option("--host <host>", "address to listen on")
    .option("--data-dir <path>", "PGlite data directory (default .data/pglite or SESAME_DATA_DIR)")
    .option("--database-url <url>", "PostgreSQL instead of PGlite (or DATABASE_URL)")
    .option("--schema <name>", "PostgreSQL schema to use (created if missing)")
    .option("--network <name>", "the node network grants must name (or SESAME_NETWORK)")
    .option("--chain <id>", "the chain grants must name (or SESAME_CHAIN)")
    .option("--seed", "seed demo data through the API when the node is empty")
    .option("--seed-posts <n>", "how many demo posts", (v) => Number.parseInt(v, 10), 24)
    .option("--log", "log every request")
    .option(
      "--peer <url...>",
      "federate: pull this peer's log (repeatable; or SESAME_PEERS=url,url)",
    )
    .option("--sync-interval <ms>", "pull each peer at least this often", (v) =>
      Number.parseInt(v, 10),
    )
    .addHelpText("after", "\nStops cleanly on Ctrl-C (SIGINT) or SIGTERM.")
    .action(
      action<
        [],
        {
          port?: number;
          host?: string;
          dataDir?: string;
          databaseUrl?: string;
          schema?: string;
          network?: string;
          chain?: string;
          seed?: boolean;
          seedPosts: number;
          log?: boolean;
          peer?: string[];
          syncInterval?: number;
        }
      >(async (ctx, o) => {
        const env = process.env;
        const { createNode, parsePeers } = await import("@sesame/node");
        const peers =
          o.peer !== undefined ? parsePeers(o.peer.join(",")) : parsePeers(env.SESAME_PEERS);
        const databaseUrl = o.databaseUrl ?? (env.DATABASE_URL || undefined);
        const dataDir = resolve(o.dataDir ?? env.SESAME_DATA_DIR ?? ".data/pglite");
        if (databaseUrl === undefined) mkdirSync(dataDir, { recursive: true });
        const instance = await createNode({
          database:
            databaseUrl !== undefined
              ? { databaseUrl, ...(o.schema === undefined ? {} : { schema: o.schema }) }
              : { pgliteDir: dataDir },
          config: {
            verify: {
              chain: o.chain ?? env.SESAME_CHAIN ?? "solana:localnet",
              network: o.network ?? env.SESAME_NETWORK ?? "sesame-local",
            },
          },
          logger: o.log === true || env.SESAME_LOG === "1",
          peers,
          ...(o.syncInterval !== undefined ? { sync: { intervalMs: o.syncInterval } } : {}),
        });
        const url = await instance.app.listen({
          port: o.port ?? Number(env.PORT ?? 8787),
          host: o.host ?? env.HOST ?? "127.0.0.1",
        });
        const engine = instance.ctx.storage.engine;
        const seeded = o.seed === true ? await seedThroughApi(ctx, url, o.seedPosts) : 0;
        ctx.out.result(
          {
            url,
            engine,
            dataDir: engine === "pglite" ? dataDir : null,
            network: instance.ctx.config.verify.network,
            chain: instance.ctx.config.verify.chain,
            seeded,
            peers,
          },
          () =>
            [
              `${green("Sesame node")} on ${engine === "pglite" ? `PGlite (${dataDir})` : "PostgreSQL"}, network ${instance.ctx.config.verify.network}`,
              seeded > 0 ? `  seeded ${seeded} demo actions` : undefined,
              `  API       ${url}/v1/feed`,
              `  stream    ${url}/v1/stream`,
              `  OpenAPI   ${url}/openapi.json`,
              `  health    ${url}/health    metrics ${url}/metrics`,
              peers.length > 0 ? `  peers     ${peers.join(", ")}` : undefined,
              dim("  Ctrl-C to stop"),
            ]
              .filter((l) => l !== undefined)
              .join("\n"),
        );
        await new Promise<void>((done) => {
          for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => done());
        });
        await instance.close();
      }),
    );
}
