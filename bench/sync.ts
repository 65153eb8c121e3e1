/**
 * Federation catch-up: node A (its own process) ingests N signed actions over HTTP — the
 * single-node ingest rate of this run — then node B (its own process, its own database)
 * starts with A as its only peer and pulls A's whole log through GET /v1/sync, verifying
 * every message itself. Prints B's catch-up messages/s, A's ingest rate and the ratio,
 * then how long a revocation posted to A takes to be in force on B (nudged by A's
 * stream, and by the pull interval alone).
 *
 *   npm run bench -- sync [--engine=postgres|pglite] [--sessions=200] [--per-session=500]
 *     [--concurrency=16] [--workers=2] [--page=1000] [--revocations=5]
 *
 * Results go to bench/results/sync-<engine>.json (one file per engine).
 */
import { sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  restoreVerifiedGrant,
  revocationToText,
  toBase58,
  utf8,
} from "@sesame/protocol";
import pg from "pg";
import {
  argValue,
  type BenchSession,
  Client,
  DATABASE_URL,
  type Engine,
  fmt,
  makeSession,
  NETWORK,
  type NodeProcess,
  type NodeProcessOptions,
  numberArg,
  startNode,
} from "./lib.js";

const BATCH = 100;
const GOAL = 0.5;

interface PeerStatus {
  readonly url: string;
  readonly cursor: number;
  readonly head: number;
  readonly lag: number;
  readonly accepted: number;
  readonly refused: number;
  readonly refusedByCode: Record<string, number>;
  readonly lastPullAt: number | null;
}

/** Posts and reactions from every session, interleaved, as request bodies of 100. */
function prepare(
  sessions: readonly BenchSession[],
  grantIds: readonly string[],
  perSession: number,
) {
  const now = Date.now();
  const posts: string[] = [];
  const items: string[] = [];
  for (let k = 1; k <= perSession; k++) {
    for (let s = 0; s < sessions.length; s++) {
      const session = sessions[s] as BenchSession;
      const grant = grantIds[s] as never;
      const react = k % 3 === 0 && posts.length > 0;
      const ord = react ? Math.floor(k / 3) : k - Math.floor(k / 3);
      const payload: ActionPayload = react
        ? {
            v: 1,
            kind: "react",
            grant,
            seq: k,
            ord,
            ts: now - 60_000 + k,
            body: {
              target: posts[(k * 7919 + s * 104_729) % posts.length] as never,
              reaction: "like",
            },
          }
        : {
            v: 1,
            kind: "post",
            grant,
            seq: k,
            ord,
            ts: now - 60_000 + k,
            body: { text: `Federated post #${k} of session ${s}.`, links: [], mentions: [] },
          };
      if (!react) posts.push(actionIdOf(payload));
      const sig = sign(null, actionSigningBytes(payload), session.sessionKey);
      items.push(JSON.stringify({ payload, signature: toBase58(sig) }));
    }
  }
  const bodies: string[] = [];
  for (let i = 0; i < items.length; i += BATCH)
    bodies.push(`{"actions":[${items.slice(i, i + BATCH).join(",")}]}`);
  return { bodies, count: items.length };
}

async function load(client: Client, bodies: readonly string[], concurrency: number) {
  let next = 0;
  let accepted = 0;
  const errors: string[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const r = await client.request("POST", "/v1/actions", bodies[next++] as string);
        if (r.status !== 200) {
          if (errors.length < 3) errors.push(`HTTP ${r.status} ${r.text.slice(0, 200)}`);
          continue;
        }
        for (const item of (JSON.parse(r.text) as { results: { ok: boolean }[] }).results) {
          if (item.ok) accepted++;
          else if (errors.length < 3) errors.push(JSON.stringify(item).slice(0, 200));
        }
      }
    }),
  );
  return { accepted, errors, seconds: (performance.now() - started) / 1000 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function peerStatus(client: Client): Promise<PeerStatus> {
  const r = await client.json<{ peers: PeerStatus[] }>("GET", "/v1/peers");
  return r.peers[0] as PeerStatus;
}

/** Posts a revocation of `s` to A, then polls B until B reports the session revoked. */
async function revocationDelay(a: Client, b: Client, s: BenchSession, grantId: string) {
  const text = revocationToText({
    version: 1,
    wallet: s.wallet as never,
    network: NETWORK,
    target: { kind: "grant", grant: grantId as never },
    compromisedSince: null,
    issuedAt: Date.now() - 1000,
    nonce: toBase58(crypto.getRandomValues(new Uint8Array(16))),
  });
  const signature = toBase58(sign(null, utf8(text), s.walletKey));
  // At a random moment of the follower's pull cycle, not right after the last round.
  await sleep(Math.random() * 1000);
  const t0 = performance.now();
  await a.json("POST", "/v1/revocations", { text, signature });
  for (;;) {
    const r = await b.json<{ items: { grant: string; status: string }[] }>(
      "GET",
      `/v1/wallets/${s.wallet}/sessions`,
    );
    if (r.items.find((i) => i.grant === grantId)?.status === "revoked")
      return performance.now() - t0;
    await sleep(5);
  }
}

export async function syncBench(): Promise<Record<string, unknown>> {
  const engine = (argValue("engine") ?? "postgres") as Engine;
  if (engine !== "postgres" && engine !== "pglite") throw new Error("--engine: postgres or pglite");
  const sessionCount = numberArg("sessions", 200);
  const perSession = numberArg("per-session", 500);
  const concurrency = numberArg("concurrency", 16);
  const workers = numberArg("workers", 2);
  const pageSize = numberArg("page", 1000);
  const revocations = numberArg("revocations", 5);

  const now = Date.now();
  const sessions = Array.from({ length: sessionCount }, () => makeSession(now));
  const grantIds = sessions.map((s) => restoreVerifiedGrant({ ...s.grant, form: "message" }).id);
  const t0 = performance.now();
  const prepared = prepare(sessions, grantIds, perSession);
  console.log(
    `pre-signed ${fmt(prepared.count)} actions for ${sessionCount} sessions in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const tag = `${process.pid}`;
  const dirs: string[] = [];
  const schemas: string[] = [];
  const database = (name: string): NodeProcessOptions => {
    if (engine === "pglite") {
      const dir = mkdtempSync(join(tmpdir(), `sesame-bench-sync-${name}-`));
      dirs.push(dir);
      return { engine, pgliteDir: dir, verifyWorkers: workers };
    }
    const schema = `bench_sync_${name}_${tag}`;
    schemas.push(schema);
    return { engine, databaseUrl: DATABASE_URL, schema, verifyWorkers: workers };
  };
  const nodes: NodeProcess[] = [];
  const clients: Client[] = [];
  try {
    // A: the single-node ingest of the same messages, measured in this run.
    const a = await startNode(database("a"));
    nodes.push(a);
    const ac = new Client(a.port, concurrency);
    clients.push(ac);
    for (const s of sessions) await ac.json("POST", "/v1/grants", s.grant);
    console.log(
      `\n${engine}: node A ingests ${fmt(prepared.count)} actions over HTTP (requests of ${BATCH}, ${concurrency} in flight, ${workers} verify workers)`,
    );
    const ingest = await load(ac, prepared.bodies, concurrency);
    if (ingest.accepted !== prepared.count)
      throw new Error(
        `A accepted ${ingest.accepted} of ${prepared.count}: ${ingest.errors.join("; ")}`,
      );
    const ingestRate = ingest.accepted / ingest.seconds;
    console.log(`node A ingest: ${fmt(ingestRate)} actions/s (${ingest.seconds.toFixed(1)} s)`);
    const head = (await ac.json<{ head: number }>("GET", "/v1/sync?limit=1")).head;
    const total = sessionCount + prepared.count;

    // B: starts empty with A as its peer, and catches up.
    console.log(
      `node B starts with A as its peer: catch-up of ${fmt(total)} messages (pages of ${pageSize})`,
    );
    const b = await startNode({
      ...database("b"),
      peers: [`http://127.0.0.1:${a.port}`],
      sync: { intervalMs: 1000, pageSize },
    });
    nodes.push(b);
    const bc = new Client(b.port, 2);
    clients.push(bc);
    const first = await peerStatus(bc);
    const tStart = performance.now();
    let last = first;
    for (;;) {
      last = await peerStatus(bc);
      if (last.cursor >= head && last.lag === 0) break;
      await sleep(50);
    }
    const seconds = (performance.now() - tStart) / 1000;
    const caughtUp = last.accepted - first.accepted;
    const syncRate = caughtUp / seconds;
    const ratio = syncRate / ingestRate;
    const complete = last.accepted === total && last.refused === 0;
    console.log(
      `node B catch-up: ${fmt(syncRate)} messages/s (${fmt(caughtUp)} in ${seconds.toFixed(1)} s after B listened; ${fmt(first.accepted)} before) — ` +
        `${(ratio * 100).toFixed(1)}% of A's ingest (goal >= ${GOAL * 100}%); ${complete ? "all" : "NOT all"} ${fmt(total)} accepted, refused ${last.refused}`,
    );

    // Revocation propagation: posted to A, in force on B.
    const nudged: number[] = [];
    for (let i = 0; i < revocations; i++)
      nudged.push(
        await revocationDelay(ac, bc, sessions[i] as BenchSession, grantIds[i] as string),
      );
    console.log(
      `revocation posted to A, session revoked on B (nudged by A's stream): ${nudged.map((m) => `${m.toFixed(0)} ms`).join(", ")}`,
    );
    await b.close();
    nodes.splice(nodes.indexOf(b), 1);
    // The same with no stream: the pull interval (1 s) alone.
    const c = await startNode({
      ...database("c"),
      peers: [`http://127.0.0.1:${a.port}`],
      sync: { intervalMs: 1000, pageSize, nudge: false },
    });
    nodes.push(c);
    const cc = new Client(c.port, 2);
    clients.push(cc);
    for (;;) {
      const s = await peerStatus(cc);
      if (s.lag === 0 && s.cursor > head) break;
      await sleep(200);
    }
    const polled: number[] = [];
    for (let i = revocations; i < 2 * revocations; i++)
      polled.push(
        await revocationDelay(ac, cc, sessions[i] as BenchSession, grantIds[i] as string),
      );
    console.log(
      `revocation posted to A, session revoked on C (interval 1 s, no stream): ${polled.map((m) => `${m.toFixed(0)} ms`).join(", ")}`,
    );
    const [l1, l5, l15] = loadavg();
    console.log(
      `machine load average (shared machine): ${l1?.toFixed(2)} ${l5?.toFixed(2)} ${l15?.toFixed(2)}`,
    );
    if (!complete || ratio < GOAL) process.exitCode = 1;
    const max = (xs: number[]) => Math.round(Math.max(...xs));
    return {
      engine,
      messages: total,
      pageSize,
      verifyWorkers: workers,
      ingestPerSec: Math.round(ingestRate),
      ingestSeconds: Number(ingest.seconds.toFixed(2)),
      catchUpPerSec: Math.round(syncRate),
      catchUpSeconds: Number(seconds.toFixed(2)),
      acceptedBeforeListening: first.accepted,
      ratioToIngest: Number(ratio.toFixed(3)),
      goal: GOAL,
      met: complete && ratio >= GOAL,
      accepted: last.accepted,
      refused: last.refused,
      revocationNudgedMs: nudged.map(Math.round),
      revocationNudgedMaxMs: max(nudged),
      revocationIntervalOnlyMs: polled.map(Math.round),
      revocationIntervalOnlyMaxMs: max(polled),
      loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
    };
  } finally {
    for (const c of clients) c.close();
    for (const n of nodes) await n.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if (schemas.length > 0) {
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await admin.end();
    }
  }
}
