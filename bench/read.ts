/**
 * Read latency with a large store: bulk-loads 1,000,000 posts (plus replies, reactions,
 * follows and profiles of 10,000 wallets, one session each) straight into PostgreSQL (own
 * schema) with COPY, then starts a real node in its own process on that schema and
 * measures p50/p99 of the feed (first and deep pages), threads, a wallet's posts, the
 * following feed and profiles, one request at a time and then from 8 and 32 concurrent
 * clients (p50/p99 and requests/s), beside GET /health in the same run (the HTTP floor).
 * Prints the node's RSS. Every loaded row is a real signed action: the
 * loader signs each one with its session key (node:crypto, on worker threads).
 *
 *   npm run bench -- read [--posts=1000000] [--wallets=10000] [--requests=1000]
 *     [--concurrency=1,8,32] [--keep] [--schema=<loaded schema to reuse>]
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import os from "node:os";
import { Worker } from "node:worker_threads";
import { openDatabase } from "@sesame/node";
import {
  type ActionPayload,
  actionSigningBytes,
  initialSessionState,
  restoreVerifiedGrant,
  type SessionState,
  toBase58,
} from "@sesame/protocol";
import cliProgress from "cli-progress";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import {
  argValue,
  type BenchSession,
  Client,
  DATABASE_URL,
  fmt,
  makeSession,
  ms,
  numberArg,
  percentile,
  startNode,
} from "./lib.js";

const DAY = 86_400_000;
const GOAL_P99_MS = 20;
const SIGN_WORKERS = 2;
const CHUNK = 20_000;

/** A small deterministic PRNG (mulberry32), so every load has the same shape. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** COPY text format: backslash, newline, carriage return and tab escaped; \N is NULL. */
function esc(value: string | number | boolean | null): string {
  if (value === null) return "\\N";
  if (typeof value !== "string") return String(value);
  return /[\\\n\r\t]/.test(value)
    ? value.replace(/[\\\n\r\t]/g, (c) =>
        c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t",
      )
    : value;
}

const row = (values: (string | number | boolean | null)[]) => `${values.map(esc).join("\t")}\n`;

const TEXTS = [
  "gm! First post from a session key: one wallet prompt, then no more.",
  "Session keys that can only post, with a cap I chose. Finally.",
  "Revoked my old laptop's session from my phone. Took one click.",
  "Every post here is signed; anyone can check the caps were kept.",
  "Reading the grant text before signing is underrated.",
  "Tipping through an SPL delegate allowance: the chain enforces the budget.",
  "Federation means my grant works on every Sesame node.",
  "Hot take: wallet prompts for every like were never going to work.",
  "Short one.",
  "A longer post, closer to what people write when they have something to say: I gave this app a session that can post and react for a week, capped at fifty posts, and I can watch the count go up in my sessions list.",
];

interface Signer {
  sign(keys: Uint32Array, messages: Uint8Array[]): Promise<string[]>;
  close(): Promise<void>;
}

function startSigners(sessions: readonly BenchSession[]): Signer {
  const keys = sessions.map((s) => s.sessionKey);
  const workers = Array.from(
    { length: SIGN_WORKERS },
    () => new Worker(new URL("./sign-worker.mjs", import.meta.url), { workerData: { keys } }),
  );
  let nextId = 0;
  const signOn = (w: Worker, k: Uint32Array, messages: Uint8Array[]) => {
    const offsets = new Uint32Array(messages.length + 1);
    for (let i = 0; i < messages.length; i++)
      offsets[i + 1] = (offsets[i] as number) + (messages[i] as Uint8Array).length;
    const bytes = new Uint8Array(offsets[messages.length] as number);
    messages.forEach((m, i) => {
      bytes.set(m, offsets[i] as number);
    });
    const id = nextId++;
    return new Promise<string[]>((resolve, reject) => {
      const onMessage = (m: { id: number; signatures: string[] }) => {
        if (m.id !== id) return;
        w.off("message", onMessage);
        w.off("error", reject);
        resolve(m.signatures);
      };
      w.on("message", onMessage);
      w.once("error", reject);
      w.postMessage({ id, keys: k, offsets, bytes }, [offsets.buffer, bytes.buffer]);
    });
  };
  return {
    async sign(k, messages) {
      const per = Math.ceil(messages.length / workers.length);
      const parts = await Promise.all(
        workers.map((w, i) =>
          signOn(w, k.slice(i * per, (i + 1) * per), messages.slice(i * per, (i + 1) * per)),
        ),
      );
      return parts.flat();
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

interface Loaded {
  /** Seconds the bulk load took in this run; null when a kept schema was reused. */
  readonly loadSeconds: number | null;
  readonly wallets: string[];
  /** Root posts that have replies. */
  readonly threads: string[];
  readonly posts: string[];
  readonly maxLogId: number;
  readonly firstActionLogId: number;
}

/** Writes to a COPY stream, waiting when it asks to. */
async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
}

async function copy(client: pg.Client, table: string, columns: string[], text: string) {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
  stream.end(text);
  await once(stream, "finish");
}

async function load(schema: string, walletCount: number, postCount: number): Promise<Loaded> {
  const started = performance.now();
  const storage = await openDatabase({ databaseUrl: DATABASE_URL, schema });
  await storage.close();
  const client = new pg.Client({
    connectionString: DATABASE_URL,
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  // A bulk load: foreign-key triggers off for this session (the rows are consistent by
  // construction), and the actions table's secondary indexes built once at the end.
  await client.query("SET session_replication_role = replica");
  const secondary = (
    await client.query<{ name: string; def: string }>(
      `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
       WHERE i.schemaname = $1 AND i.tablename = 'actions' AND NOT EXISTS (
         SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`,
      [schema],
    )
  ).rows;
  for (const ix of secondary) await client.query(`DROP INDEX ${ix.name}`);

  const now = Date.now();
  const grantFrom = now - 21 * DAY;
  console.log(`making ${fmt(walletCount)} wallets with one session each...`);
  const sessions = Array.from({ length: walletCount }, () =>
    makeSession(now, { from: grantFrom, lifetimeMs: 25 * DAY }),
  );
  const grantIds = sessions.map((s) => restoreVerifiedGrant({ ...s.grant, form: "message" }).id);
  let logId = 0;
  let grantsText = "";
  sessions.forEach((s, i) => {
    logId++;
    grantsText += row([
      grantIds[i] as string,
      logId,
      s.wallet,
      s.sessionAddress,
      s.encryptionAddress,
      "bench.sesame.test",
      "bench",
      "post,reply,react,follow,profile",
      s.grant.text,
      s.grant.signature,
      "message",
      null,
      grantFrom,
      grantFrom,
      grantFrom + 25 * DAY,
      grantFrom,
    ]);
  });
  await copy(
    client,
    "grants",
    [
      "id",
      "log_id",
      "wallet",
      "session_key",
      "encryption_key",
      "domain",
      "device",
      "scopes",
      "text",
      "signature",
      "form",
      "transaction",
      "issued_at",
      "not_before",
      "expiration_time",
      "received_at",
    ],
    grantsText,
  );

  const replyCount = Math.round(postCount * 0.2);
  const reactCount = Math.round(postCount * 0.3);
  const followsPer = Math.min(10, walletCount - 1);
  const followCount = walletCount * followsPer;
  const total = walletCount + followCount + postCount + replyCount + reactCount;
  const firstActionLogId = logId + 1;
  const start = now - 20 * DAY;
  const step = Math.floor((20 * DAY - 120_000) / total);
  const random = rng(20_261_126);
  const states = grantIds.map((g) => ({
    ...(initialSessionState(g) as SessionState),
    used: {} as Record<string, number>,
    maxOrd: {} as Record<string, number>,
    rates: {} as Record<string, [number, number][]>,
  }));
  const posts: string[] = [];
  const replies: string[] = [];
  const replied = new Set<string>();
  const reacted = new Set<string>();
  let followsText = "";
  let reactionsText = "";
  let profilesText = "";

  const signer = startSigners(sessions);
  const actions = client.query(
    copyFrom(
      "COPY actions (log_id, id, grant_id, wallet, kind, scope, seq, ord, ts, received_at, payload, signature, parent, root, target) FROM STDIN",
    ),
  );
  const bar = new cliProgress.SingleBar(
    {
      format:
        "signing and loading |{bar}| {percentage}% | {value}/{total} actions | {rate}/s | eta {eta_formatted}",
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 50_000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { rate: "0" });

  // Phase by position: profiles, then follows, then posts mixed with replies and reactions.
  // Posts, replies and reactions interleave in proportion to what is left of each, so the
  // mix is even from the first post to the last.
  const kindAt = (i: number): ActionPayload["kind"] => {
    if (i < walletCount) return "profile";
    if (i < walletCount + followCount) return "follow";
    if (posts.length < 1000) return "post";
    const postsLeft = postCount - made.post;
    const repliesLeft = replyCount - made.reply;
    const r = random() * (postsLeft + repliesLeft + reactCount - made.react);
    return r < postsLeft ? "post" : r < postsLeft + repliesLeft ? "reply" : "react";
  };
  const made = { post: 0, reply: 0, react: 0 };
  // Whom each wallet follows: popular wallets (low numbers) more often, never oneself.
  const follows = sessions.map((_, w) => {
    const targets = new Set<number>();
    while (targets.size < followsPer) {
      const t = Math.floor(walletCount * random() ** 3);
      if (t !== w) targets.add(t);
    }
    return [...targets];
  });
  let i = 0;
  let pending: Promise<void> = Promise.resolve();
  const loadStarted = performance.now();
  while (i < total) {
    const n = Math.min(CHUNK, total - i);
    const keys = new Uint32Array(n);
    const messages: Uint8Array[] = [];
    const rows: {
      payload: ActionPayload;
      id: string;
      bytes: Uint8Array;
      w: number;
      logId: number;
    }[] = [];
    for (let k = 0; k < n; k++, i++) {
      const kind = kindAt(i);
      const ts = start + i * step;
      let w: number;
      let body: unknown;
      if (kind === "profile") {
        w = i;
        body = {
          displayName: `Bench user ${w}`,
          bio: "Loaded by the read benchmark.",
          avatarUrl: "",
        };
      } else if (kind === "follow") {
        w = Math.floor((i - walletCount) / followsPer);
        const target = (follows[w] as number[])[(i - walletCount) % followsPer] as number;
        body = { target: (sessions[target] as BenchSession).wallet };
      } else if (kind === "post") {
        // A few wallets write most posts.
        w = Math.floor(walletCount * random() ** 2);
        body = {
          text: `${TEXTS[Math.floor(random() * TEXTS.length)]} #${made.post}`,
          links: [],
          mentions: [],
        };
      } else if (kind === "reply") {
        w = Math.floor(walletCount * random());
        const pool = replies.length > 0 && random() < 0.3 ? replies : posts;
        const parent = pool[
          pool.length - 1 - Math.floor(Math.min(pool.length, 5000) * random())
        ] as string;
        body = {
          parent,
          text: `Replying: ${TEXTS[Math.floor(random() * TEXTS.length)]}`,
          links: [],
          mentions: [],
        };
      } else {
        w = Math.floor(walletCount * random());
        const target = posts[
          posts.length - 1 - Math.floor(Math.min(posts.length, 20_000) * random() ** 2)
        ] as string;
        body = { target, reaction: random() < 0.7 ? "like" : "fire" };
      }
      const session = sessions[w] as BenchSession;
      const state = states[w] as (typeof states)[number];
      const scope =
        kind === "profile" || kind === "follow" || kind === "post" || kind === "reply"
          ? kind
          : "react";
      const seq = state.maxSeq + 1;
      const ord = (state.maxOrd[scope] ?? 0) + 1;
      state.maxSeq = seq;
      state.maxOrd[scope] = ord;
      state.used[scope] = (state.used[scope] ?? 0) + 1;
      const receivedAt = ts + 50;
      if (receivedAt >= now - 3_600_000) {
        const minute = Math.floor(receivedAt / 60_000);
        const buckets = state.rates[scope] ?? [];
        state.rates[scope] = buckets;
        const last = buckets[buckets.length - 1];
        if (last !== undefined && last[0] === minute) last[1]++;
        else buckets.push([minute, 1]);
      }
      const payload = { v: 1, kind, grant: grantIds[w], seq, ord, ts, body } as ActionPayload;
      const bytes = actionSigningBytes(payload);
      const id = toBase58(createHash("sha256").update(bytes).digest());
      if (kind === "react") {
        const key = `${w}/${(body as { target: string }).target}/${(body as { reaction: string }).reaction}`;
        if (!reacted.has(key)) {
          reacted.add(key);
          const b = body as { target: string; reaction: string };
          reactionsText += row([session.wallet, b.target, b.reaction, true, ts, id]);
        }
        made.react++;
      } else if (kind === "post") {
        posts.push(id);
        made.post++;
      } else if (kind === "reply") {
        replies.push(id);
        replied.add((body as { parent: string }).parent);
        made.reply++;
      } else if (kind === "follow") {
        followsText += row([session.wallet, (body as { target: string }).target, true, ts, id]);
      } else {
        const b = body as { displayName: string; bio: string; avatarUrl: string };
        profilesText += row([session.wallet, b.displayName, b.bio, b.avatarUrl, ts, id]);
      }
      logId++;
      keys[k] = w;
      messages.push(bytes);
      rows.push({ payload, id, bytes, w, logId });
    }
    const signatures = signer.sign(keys, messages);
    const previous = pending;
    // At most two chunks in flight: this one signing, the previous one streaming.
    const waitFor = previous;
    // Sign this chunk while the previous one streams into PostgreSQL.
    pending = (async () => {
      const sigs = await signatures;
      await previous;
      let text = "";
      rows.forEach((r, k) => {
        const p = r.payload;
        const d =
          p.kind === "post"
            ? { parent: null, root: r.id, target: null }
            : p.kind === "reply"
              ? { parent: p.body.parent, root: null, target: null }
              : p.kind === "react"
                ? { parent: p.body.target, root: null, target: null }
                : p.kind === "follow"
                  ? { parent: null, root: null, target: p.body.target }
                  : { parent: null, root: null, target: null };
        text += row([
          r.logId,
          r.id,
          grantIds[r.w] as string,
          (sessions[r.w] as BenchSession).wallet,
          p.kind,
          p.kind === "react" ? "react" : p.kind,
          p.seq,
          p.ord,
          p.ts,
          p.ts + 50,
          new TextDecoder().decode(r.bytes.subarray(r.bytes.indexOf(10) + 1)),
          sigs[k] as string,
          d.parent,
          d.root,
          d.target,
        ]);
      });
      await write(actions, text);
      bar.increment(rows.length, {
        rate: fmt(
          (bar.getProgress() * total + rows.length) / ((performance.now() - loadStarted) / 1000),
        ),
      });
    })();
    await waitFor;
  }
  await pending;
  actions.end();
  await once(actions, "finish");
  bar.stop();
  await signer.close();

  console.log("loading follows, reactions, profiles and session states...");
  await copy(
    client,
    "follows",
    ["follower", "target", "following", "ts", "action_id"],
    followsText,
  );
  await copy(
    client,
    "reactions",
    ["wallet", "target", "reaction", "active", "ts", "action_id"],
    reactionsText,
  );
  await copy(
    client,
    "profiles",
    ["wallet", "display_name", "bio", "avatar_url", "ts", "action_id"],
    profilesText,
  );
  await copy(
    client,
    "sessions",
    [
      "grant_id",
      "wallet",
      "state",
      "status",
      "revoked_at",
      "revoked_by",
      "compromised_since",
      "updated_at",
    ],
    states
      .map((s, w) =>
        row([
          grantIds[w] as string,
          (sessions[w] as BenchSession).wallet,
          JSON.stringify(s),
          "active",
          null,
          null,
          null,
          now,
        ]),
      )
      .join(""),
  );
  console.log(`building ${secondary.length} secondary indexes of actions...`);
  for (const ix of secondary) await client.query(ix.def);
  await client.query("SELECT setval('sesame_log', $1)", [logId]);
  // What autovacuum (on by default) does to freshly inserted tables by itself: statistics,
  // and the visibility map that lets counts run as index-only scans. This machine's server
  // runs with autovacuum off, so a bulk-loaded schema would otherwise never get there.
  await client.query("VACUUM (ANALYZE)");
  await client.end();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `loaded ${fmt(walletCount)} grants and ${fmt(total)} signed actions (${fmt(made.post)} posts, ${fmt(made.reply)} replies, ${fmt(made.react)} reactions, ${fmt(followCount)} follows, ${fmt(walletCount)} profiles) in ${seconds.toFixed(0)} s`,
  );
  return {
    loadSeconds: Math.round(seconds),
    wallets: sessions.map((s) => s.wallet),
    threads: [...replied].slice(-20_000),
    posts: posts.slice(-200_000),
    maxLogId: logId,
    firstActionLogId,
  };
}

/** What a reused schema holds, for choosing request targets. */
async function inspect(schema: string): Promise<Loaded> {
  const client = new pg.Client({
    connectionString: DATABASE_URL,
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    const wallets = (await client.query<{ wallet: string }>("SELECT wallet FROM grants")).rows.map(
      (r) => r.wallet,
    );
    const threads = (
      await client.query<{ parent: string }>(
        "SELECT DISTINCT parent FROM actions WHERE kind = 'reply' ORDER BY parent LIMIT 20000",
      )
    ).rows.map((r) => r.parent);
    const posts = (
      await client.query<{ id: string }>(
        "SELECT id FROM actions WHERE kind = 'post' ORDER BY log_id DESC LIMIT 200000",
      )
    ).rows.map((r) => r.id);
    const { rows } = await client.query<{ lo: number; hi: number }>(
      "SELECT min(log_id)::int8 AS lo, max(log_id)::int8 AS hi FROM actions",
    );
    return {
      loadSeconds: null,
      wallets,
      threads,
      posts,
      firstActionLogId: Number(rows[0]?.lo),
      maxLogId: Number(rows[0]?.hi),
    };
  } finally {
    await client.end();
  }
}

interface Endpoint {
  readonly name: string;
  readonly path: (r: () => number) => string;
}

interface Figures {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly bytes: number;
  /** Measured requests per second of wall time (all clients together). */
  readonly rps: number;
}

/**
 * `requests` measured requests (after up to 100 warm-up) from `concurrency` clients, each
 * sending its next request when its previous answer is in, over keep-alive connections.
 * Latency is per request; requests/s is over the wall time of the measured part.
 */
async function measure(
  client: Client,
  endpoint: Endpoint,
  requests: number,
  random: () => number,
  concurrency: number,
): Promise<Figures> {
  const one = async (): Promise<{ dt: number; length: number }> => {
    const path = endpoint.path(random);
    const t0 = performance.now();
    const r = await client.request("GET", path);
    const dt = performance.now() - t0;
    if (r.status !== 200) throw new Error(`GET ${path} -> ${r.status}: ${r.text.slice(0, 200)}`);
    return { dt, length: r.text.length };
  };
  const run = async (n: number, record: boolean, times: number[]) => {
    let left = n;
    let bytes = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (left > 0) {
          left--;
          const r = await one();
          if (record) {
            times.push(r.dt);
            bytes += r.length;
          }
        }
      }),
    );
    return bytes;
  };
  await run(Math.min(100, requests), false, []);
  const times: number[] = [];
  const t0 = performance.now();
  const bytes = await run(requests, true, times);
  const wall = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  return {
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    max: times[times.length - 1] as number,
    bytes: bytes / times.length,
    rps: times.length / wall,
  };
}

export async function readBench(): Promise<Record<string, unknown>> {
  const postCount = numberArg("posts", 1_000_000);
  const walletCount = numberArg("wallets", 10_000);
  const requests = numberArg("requests", 1000);
  const reuse = argValue("schema");
  const keep = process.argv.includes("--keep") || reuse !== undefined;
  const schema = reuse ?? `bench_read_${process.pid}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    const loaded =
      reuse !== undefined ? await inspect(schema) : await load(schema, walletCount, postCount);
    const node = await startNode({
      engine: "postgres",
      databaseUrl: DATABASE_URL,
      schema,
      verifyWorkers: 2,
    });
    const levels = (argValue("concurrency") ?? "1,8,32").split(",").map(Number);
    if (levels[0] !== 1 || levels.some((c) => !Number.isSafeInteger(c) || c < 1))
      throw new Error("--concurrency= takes a list of client counts starting with 1, e.g. 1,8,32");
    const loadBefore = os.loadavg().map((l) => Number(l.toFixed(2)));
    const pick = <T>(list: readonly T[], r: () => number) =>
      list[Math.floor(r() * list.length)] as T;
    const span = loaded.maxLogId - loaded.firstActionLogId;
    const endpoints: Endpoint[] = [
      { name: "GET /health (HTTP floor)", path: () => "/health" },
      { name: "GET /v1/feed (first page)", path: () => "/v1/feed" },
      {
        name: "GET /v1/feed?cursor= (deep pages)",
        path: (r) =>
          `/v1/feed?cursor=${loaded.firstActionLogId + Math.floor(span * (0.02 + 0.96 * r()))}`,
      },
      {
        name: "GET /v1/posts/:id/thread (with replies)",
        path: (r) => `/v1/posts/${pick(loaded.threads, r)}/thread`,
      },
      {
        name: "GET /v1/posts/:id/thread (any post)",
        path: (r) => `/v1/posts/${pick(loaded.posts, r)}/thread`,
      },
      {
        name: "GET /v1/wallets/:w/posts",
        path: (r) => `/v1/wallets/${pick(loaded.wallets, r)}/posts`,
      },
      {
        name: "GET /v1/wallets/:w/posts?cursor= (deep)",
        path: (r) =>
          `/v1/wallets/${pick(loaded.wallets.slice(0, 100), r)}/posts?cursor=${loaded.firstActionLogId + Math.floor(span * (0.1 + 0.8 * r()))}`,
      },
      {
        name: "GET /v1/wallets/:w/following-feed",
        path: (r) => `/v1/wallets/${pick(loaded.wallets, r)}/following-feed`,
      },
      {
        name: "GET /v1/wallets/:w/profile",
        path: (r) => `/v1/wallets/${pick(loaded.wallets, r)}/profile`,
      },
    ];
    const random = rng(7);
    const figures: Record<string, unknown> = {};
    const counts = await admin.query<{ kind: string; n: string }>(
      `SELECT kind, count(*) AS n FROM ${schema}.actions GROUP BY kind ORDER BY kind`,
    );
    console.log(
      `\nstore: ${counts.rows.map((r) => `${fmt(Number(r.n))} ${r.kind}`).join(", ")}; node pid ${node.pid}, ${requests} requests per endpoint at each concurrency (${levels.join(", ")} clients), after 100 warm-up; load average ${loadBefore.join(" ")}`,
    );
    let worst = 0;
    const clients = new Map(levels.map((c) => [c, new Client(node.port, c)]));
    try {
      for (const e of endpoints) {
        const perLevel: Record<string, unknown> = {};
        for (const c of levels) {
          const r = await measure(clients.get(c) as Client, e, requests, random, c);
          if (c === 1 && !e.name.includes("/health")) worst = Math.max(worst, r.p99);
          console.log(
            `${(c === 1 ? e.name : `  ${c} concurrent`).padEnd(44)} p50 ${ms(r.p50).padStart(9)}  p99 ${ms(r.p99).padStart(9)}  max ${ms(r.max).padStart(9)}  ${fmt(r.rps).padStart(6)} req/s  ~${fmt(r.bytes)} bytes`,
          );
          const f = {
            p50Ms: Number(r.p50.toFixed(2)),
            p99Ms: Number(r.p99.toFixed(2)),
            maxMs: Number(r.max.toFixed(2)),
            requestsPerSecond: Math.round(r.rps),
          };
          if (c === 1) figures[e.name] = { ...f, concurrent: perLevel };
          else perLevel[String(c)] = f;
        }
      }
      const rss = await node.rss();
      console.log(`node RSS after the run: ${(rss / 1024 / 1024).toFixed(0)} MiB`);
      console.log(
        `worst p99 ${ms(worst)} (goal < ${GOAL_P99_MS} ms on PostgreSQL): ${worst < GOAL_P99_MS ? "met" : "NOT met"}`,
      );
      if (worst >= GOAL_P99_MS) process.exitCode = 1;
      return {
        engine: "postgres",
        rows: Object.fromEntries(counts.rows.map((r) => [r.kind, Number(r.n)])),
        wallets: loaded.wallets.length,
        requestsPerEndpoint: requests,
        concurrency: levels,
        loadAverageBefore: loadBefore,
        loadAverageAfter: os.loadavg().map((l) => Number(l.toFixed(2))),
        rows_are: "real signed actions (each signed with its session key while loading)",
        loadSeconds: loaded.loadSeconds,
        nodeRssMiB: Math.round(rss / 1024 / 1024),
        worstP99Ms: Number(worst.toFixed(2)),
        goalP99Ms: GOAL_P99_MS,
        endpoints: figures,
      };
    } finally {
      for (const c of clients.values()) c.close();
      await node.close();
    }
  } finally {
    if (!keep) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } else console.log(`kept schema ${schema} (reuse with --schema=${schema}; drop it when done)`);
    await admin.end();
  }
}
