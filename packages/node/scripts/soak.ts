/**
 * `npm run soak -- [--minutes 10] [--engine postgres|pglite] [--rate N] [--calibrate 15]
 * [--subscribers 4]`: load and soak test of a node in its own process (the built node,
 * bench/serve-node.mjs).
 *
 * 1. Calibration (skipped with --rate): the mixed workload — one write (a signed post or
 *    reaction) per read (feed, a wallet's posts, a thread) — sent closed-loop by 32
 *    concurrent clients for --calibrate seconds, with the --subscribers live-stream (SSE)
 *    clients already reading every event; its throughput is the maximum.
 * 2. Soak: the same mix, open-loop at 80 % of that maximum (a request is issued on
 *    schedule whether or not earlier ones finished, at most 256 in flight), the
 *    subscribers still reading.
 * Prints per minute: requests, errors, p50/p99 of writes and reads, SSE events received,
 * the node's RSS; then the error rate and the RSS trend. Goal: 0 errors, RSS flat; exits
 * 1 on any failed request or broken stream.
 */
import { type KeyObject, randomBytes, sign } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type ActionPayload, actionSigningBytes, grantIdOfText, toBase58 } from "@sesame/protocol";
import pg from "pg";
import {
  Client,
  DATABASE_URL,
  type Engine,
  makeSession,
  percentile,
  startNode,
} from "../../../bench/lib.js";
import { dropSchema } from "../src/index.js";

const { values } = parseArgs({
  options: {
    help: { type: "boolean", short: "h", default: false },
    minutes: { type: "string", default: "10" },
    engine: { type: "string", default: "postgres" },
    rate: { type: "string" },
    calibrate: { type: "string", default: "15" },
    subscribers: { type: "string", default: "4" },
    sessions: { type: "string", default: "100" },
  },
});
if (values.help) {
  console.log(
    [
      "npm run soak -- [--minutes 10] [--engine postgres|pglite] [--rate N] [--calibrate 15]",
      "                [--subscribers 4] [--sessions 100]",
      "Calibrates the maximum of a mixed read/write workload (skipped with --rate), then runs it",
      "open-loop at 80 % of that maximum for --minutes with --subscribers live-stream clients.",
      "Prints per minute: requests, errors, p50/p99 of writes and reads, stream events, the",
      "node's RSS; then the error rate and the RSS trend.",
    ].join("\n"),
  );
  process.exit(0);
}
const engine = values.engine as Engine;
const minutes = Number(values.minutes);

interface Session {
  readonly wallet: string;
  readonly grantId: string;
  readonly key: KeyObject;
  seq: number;
  ords: Record<string, number>;
}

const schema = `soak_${process.pid}_${randomBytes(3).toString("hex")}`;
const dir = await mkdtemp(join(tmpdir(), "sesame-soak-"));
const node = await startNode(
  engine === "postgres"
    ? { engine, databaseUrl: DATABASE_URL, schema, verifyWorkers: 1 }
    : { engine, pgliteDir: join(dir, "pglite"), verifyWorkers: 1 },
);
const client = new Client(node.port, 300);

// This machine's PostgreSQL runs with autovacuum off, so its planner would keep the
// statistics of the empty tables the soak started with; a server with the default
// settings analyzes growing tables by itself. Stand in for that, and say so.
let stopAnalyzing = async () => {};
if (engine === "postgres") {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  const { rows } = await admin.query<{ autovacuum: string }>("SHOW autovacuum");
  if (rows[0]?.autovacuum === "off") {
    console.log(
      "PostgreSQL has autovacuum off: the soak runs ANALYZE on its schema's tables every 30 s, as autovacuum would",
    );
    const analyze = async () => {
      const tables = await admin.query<{ t: string }>(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = $1",
        [schema],
      );
      for (const { t } of tables.rows) await admin.query(`ANALYZE ${t}`);
    };
    let running: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(analyze).catch(() => {});
    }, 30_000);
    stopAnalyzing = async () => {
      clearInterval(timer);
      await running;
      await admin.end();
    };
  } else {
    await admin.end();
  }
}

const sessions: Session[] = [];
for (let i = 0; i < Number(values.sessions); i++) {
  const s = makeSession(Date.now());
  await client.json("POST", "/v1/grants", s.grant);
  sessions.push({
    wallet: s.wallet,
    grantId: grantIdOfText(s.grant.text),
    key: s.sessionKey,
    seq: 0,
    ords: {},
  });
}
const posts: string[] = [];

function signed(s: Session, kind: "post" | "react", body: unknown): string {
  const scope = kind;
  s.seq++;
  s.ords[scope] = (s.ords[scope] ?? 0) + 1;
  const payload = {
    v: 1,
    kind,
    grant: s.grantId,
    seq: s.seq,
    ord: s.ords[scope],
    ts: Date.now(),
    body,
  } as ActionPayload;
  return JSON.stringify({
    payload,
    signature: toBase58(sign(null, actionSigningBytes(payload), s.key)),
  });
}

let op = 0;
/** Failed requests by status and code (or network error), for the report. */
const failures: Record<string, number> = {};
function failed(status: number | string, text = ""): false {
  let code = "";
  try {
    code = String((JSON.parse(text) as { code?: unknown }).code ?? "");
  } catch {
    // not JSON
  }
  const key = `${status}${code === "" ? "" : ` ${code}`}`;
  failures[key] = (failures[key] ?? 0) + 1;
  return false;
}
/** One request of the mix: even ops write, odd ops read. Resolves to [kind, ms, ok]. */
async function one(): Promise<["write" | "read", number, boolean]> {
  const i = op++;
  const s = sessions[i % sessions.length] as Session;
  const t0 = performance.now();
  let ok: boolean;
  let kind: "write" | "read";
  try {
    if (i % 2 === 0) {
      kind = "write";
      const target = (posts.length > 0 && i % 6 === 0 && posts[(i * 7919) % posts.length]) || null;
      const body =
        target !== null
          ? signed(s, "react", { target, reaction: "like" })
          : signed(s, "post", { text: `soak ${i}`, links: [], mentions: [] });
      const r = await client.request("POST", "/v1/actions", body);
      ok = r.status === 201 || failed(r.status, r.text);
      // Only a stored post is read or reacted to later (a thread of an unstored one is 404).
      if (ok && target === null) posts.push((JSON.parse(r.text) as { id: string }).id);
    } else {
      kind = "read";
      const pick = i % 3;
      const path =
        pick === 0 || posts.length === 0
          ? "/v1/feed?limit=20"
          : pick === 1
            ? `/v1/wallets/${s.wallet}/posts?limit=20`
            : `/v1/posts/${posts[(i * 104729) % posts.length]}/thread`;
      const r = await client.request("GET", path);
      ok = r.status === 200 || failed(r.status, r.text);
    }
  } catch (e) {
    kind = i % 2 === 0 ? "write" : "read";
    ok = failed((e as { code?: string }).code ?? "network");
  }
  return [kind, performance.now() - t0, ok];
}

// The live-stream subscribers connect first: the calibration measures the mix with the
// fan-out to them included, so 80 % of it is a load the node can carry with them.
interface Minute {
  requests: number;
  errors: number;
  late: number;
  writes: number[];
  reads: number[];
  events: number;
}
const fresh = (): Minute => ({ requests: 0, errors: 0, late: 0, writes: [], reads: [], events: 0 });
let current = fresh();
const perMinute: (Minute & { rssMiB: number })[] = [];

// Live-stream subscribers, each reading every event from now on.
const streams: http.ClientRequest[] = [];
let streamErrors = 0;
let soaking = true;
function subscribe(): void {
  const req = http.get(
    {
      host: "127.0.0.1",
      port: node.port,
      path: "/v1/stream",
      headers: { accept: "text/event-stream" },
    },
    (res) => {
      if (res.statusCode !== 200) streamErrors++;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        current.events += chunk.split("\n\n").filter((b) => b.includes("data:")).length;
      });
      res.on("end", () => {
        if (soaking) {
          streamErrors++;
          subscribe();
        }
      });
    },
  );
  req.on("error", () => {
    if (soaking) streamErrors++;
  });
  streams.push(req);
}
for (let i = 0; i < Number(values.subscribers); i++) subscribe();

// --- 1. calibration ---------------------------------------------------------------------
let rate: number;
if (values.rate !== undefined) {
  rate = Number(values.rate);
  console.log(`rate given: ${rate} requests/s (no calibration)`);
} else {
  const seconds = Number(values.calibrate);
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < until) {
        const [, , ok] = await one();
        done++;
        if (!ok) refused++;
      }
    }),
  );
  const max = done / seconds;
  rate = Math.round(max * 0.8);
  console.log(
    `calibration: ${Math.round(max)} requests/s of the mix at most (${refused} failed: ${JSON.stringify(failures)}) over ${seconds} s; soak at 80 %: ${rate}/s`,
  );
  for (const key of Object.keys(failures)) delete failures[key];
}
current = fresh();
streamErrors = 0;

// --- 2. soak ------------------------------------------------------------------------------

console.log(
  `soak: ${minutes} min at ${rate} requests/s (half writes, half reads), ${values.subscribers} stream subscribers, ${engine}`,
);
console.log(
  "minute | requests | errors | late | write p50/p99 ms | read p50/p99 ms | SSE events | node RSS MiB",
);
const started = performance.now();
const end = started + minutes * 60_000;
let inFlight = 0;
let nextMinute = started + 60_000;
const pending = new Set<Promise<void>>();
const MAX_IN_FLIGHT = 256;
const interval = 1000 / rate;
let due = started;
const flushMinute = async () => {
  const m = current;
  current = fresh();
  const rssMiB = Math.round((await node.rss()) / 1048576);
  perMinute.push({ ...m, rssMiB });
  const w = [...m.writes].sort((a, b) => a - b);
  const r = [...m.reads].sort((a, b) => a - b);
  console.log(
    `${String(perMinute.length).padStart(6)} | ${String(m.requests).padStart(8)} | ${String(m.errors).padStart(6)} | ${String(m.late).padStart(4)} | ${percentile(w, 50).toFixed(1)} / ${percentile(w, 99).toFixed(1)} | ${percentile(r, 50).toFixed(1)} / ${percentile(r, 99).toFixed(1)} | ${m.events} | ${rssMiB}`,
  );
};
while (performance.now() < end) {
  const now = performance.now();
  if (now >= nextMinute) {
    nextMinute += 60_000;
    await flushMinute();
  }
  // Issue every request that is due; pace with short sleeps.
  while (due <= performance.now() && due < end) {
    due += interval;
    if (inFlight >= MAX_IN_FLIGHT) {
      current.late++;
      continue;
    }
    inFlight++;
    const p = one().then(([kind, ms, ok]) => {
      inFlight--;
      current.requests++;
      if (!ok) current.errors++;
      (kind === "write" ? current.writes : current.reads).push(ms);
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  await new Promise((r) => setTimeout(r, Math.max(1, Math.min(20, due - performance.now()))));
}
await Promise.all(pending);
if (current.requests > 0) await flushMinute();
soaking = false;
for (const s of streams) s.destroy();

const total = perMinute.reduce((n, m) => n + m.requests, 0);
const errors = perMinute.reduce((n, m) => n + m.errors, 0);
const late = perMinute.reduce((n, m) => n + m.late, 0);
const rss = perMinute.map((m) => m.rssMiB);
const half = Math.max(1, Math.floor(rss.length / 2));
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
console.log(
  `\nrequests ${total}, errors ${errors} (error rate ${((errors / Math.max(1, total)) * 100).toFixed(3)} %), late (over ${MAX_IN_FLIGHT} in flight) ${late}, stream disconnects/errors ${streamErrors}`,
);
console.log(`failures by status and code: ${JSON.stringify(failures)}`);
console.log(
  `node RSS MiB per minute: ${rss.join(", ")}${
    rss.length < 2
      ? ""
      : `; mean of the first half ${avg(rss.slice(0, half)).toFixed(0)}, of the second half ${avg(rss.slice(half)).toFixed(0)}`
  }`,
);
client.close();
await stopAnalyzing();
await node.close();
if (engine === "postgres") await dropSchema(DATABASE_URL, schema).catch(() => {});
await rm(dir, { recursive: true, force: true });
// A failed request or a live stream that broke off fails the run.
process.exit(errors > 0 || streamErrors > 0 ? 1 : 0);
