/**
 * The crash test: a node in a child process (bench/serve-node.mjs, the built node) on
 * PostgreSQL or on PGlite in a data directory, flooded by several concurrent clients,
 * killed with SIGKILL at a random moment, restarted on the same data. After each kill
 * the database is read directly and checked:
 *   - every action that got a success answer is stored (lost = acked and not found);
 *   - no session holds more posts than its grant's total cap or hourly rate (overruns);
 *   - the database is consistent: each session's state row agrees with its actions
 *     (used per scope, highest sequence and ordinal), no action or session without its
 *     grant, log ids unique across the log's tables, stored ids match their payloads.
 * Some sessions are bound by their total cap and some by their hourly rate, and clients
 * keep posting past both, so refusals 4002 and 4003 are expected along the way. Actions
 * whose answer was lost in the kill are sent again after the restart (same bytes).
 */
import { type KeyObject, randomBytes, sign } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  type GrantId,
  grantIdOfText,
  type SessionState,
  toBase58,
} from "@sesame/protocol";
import { sql } from "kysely";
import {
  Client,
  DATABASE_URL,
  type Engine,
  makeSession,
  type NodeProcess,
  startNode,
} from "../../../bench/lib.js";
import { dropSchema, openDatabase, type Storage } from "../src/index.js";

export interface CrashOptions {
  readonly engine: Engine;
  readonly rounds: number;
  /** Concurrent clients (default 4). */
  readonly clients?: number;
  /** Sessions per client (default 2). */
  readonly sessionsPerClient?: number;
  /**
   * The kill comes a random 0..maxFloodMs after the round's first success answer
   * (default 1500): timed from the first ack, not from the start, so a slow start on a
   * loaded machine does not make rounds that kill a node before it stored anything.
   */
  readonly maxFloodMs?: number;
  readonly log?: (line: string) => void;
  readonly databaseUrl?: string;
  /** Half the sessions may post `total` in all, half `perHour` (default 25 and 20). */
  readonly caps?: { readonly total: number; readonly perHour: number };
}

export interface CrashSummary {
  engine: Engine;
  rounds: number;
  /** Actions that got a success answer (201, or 200 for a re-sent duplicate). */
  acked: number;
  /** Of those, found stored after the kills. */
  found: number;
  lost: number;
  /** Sessions found holding more posts than their cap or rate allows (summed over rounds). */
  overruns: number;
  /** Consistency violations found (summed over rounds). */
  inconsistencies: number;
  /** Rounds whose node was killed without any ack (none came within FIRST_ACK_TIMEOUT_MS). */
  killedBeforeAck: number;
  /** Milliseconds from the round's first ack to the kill, per round. */
  readonly killAfterAckMs: number[];
  /** Answers by status or code: 201, 200, 4002, 4003, ... and "unanswered" (cut by a kill). */
  readonly answers: Record<string, number>;
  /** The first violations, for the report. */
  readonly problems: string[];
}

const CAPS = { total: 25, perHour: 20 };
/** A round whose node acks nothing for this long is killed anyway (and counted). */
const FIRST_ACK_TIMEOUT_MS = 30_000;

interface Session {
  readonly grantId: GrantId;
  readonly grant: { readonly text: string; readonly signature: string };
  readonly key: KeyObject;
  readonly limit: { total: number | null; perHour: number | null };
  seq: number;
  ord: number;
}

function makeSessions(n: number, now: number, caps = CAPS): Session[] {
  return Array.from({ length: n }, (_, i) => {
    const s = makeSession(now);
    // makeSession's grant has no binding limits; rebuild its text with ours.
    const capped = i % 2 === 0;
    const limit = capped
      ? { total: caps.total, perHour: null }
      : { total: null, perHour: caps.perHour };
    return { ...withLimits(s, limit), limit, seq: 0, ord: 0 };
  });
}

/** A bench session whose grant caps posts at `limit`. */
function withLimits(
  s: ReturnType<typeof makeSession>,
  limit: { total: number | null; perHour: number | null },
): Pick<Session, "grantId" | "grant" | "key"> {
  const fmt = (l: { total: number | null; perHour: number | null }) =>
    `- post: ${l.total === null ? "no total limit" : `at most ${l.total} in total`}, ${
      l.perHour === null ? "no hourly limit" : `at most ${l.perHour} per hour`
    }`;
  const text = s.grant.text.replace(fmt({ total: null, perHour: null }), fmt(limit));
  if (text === s.grant.text) throw new Error("could not set the post limit in the grant text");
  const signature = toBase58(sign(null, Buffer.from(text), s.walletKey));
  return { grantId: grantIdOfText(text), grant: { text, signature }, key: s.sessionKey };
}

function signPost(s: Session, text: string): { payload: ActionPayload; signature: string } {
  s.seq++;
  s.ord++;
  const payload = {
    v: 1,
    kind: "post",
    grant: s.grantId,
    seq: s.seq,
    ord: s.ord,
    ts: Date.now(),
    body: { text, links: [], mentions: [] },
  } as ActionPayload;
  return { payload, signature: toBase58(sign(null, actionSigningBytes(payload), s.key)) };
}

async function openCheck(
  engine: Engine,
  where: { pgliteDir: string; databaseUrl: string; schema: string },
): Promise<Storage> {
  return engine === "postgres"
    ? await openDatabase({ databaseUrl: where.databaseUrl, schema: where.schema, poolSize: 2 })
    : await openDatabase({ pgliteDir: where.pgliteDir });
}

/** Checks the stored state; returns the violations found and the stored action ids. */
async function check(
  storage: Storage,
  sessions: readonly Session[],
): Promise<{ problems: string[]; overruns: number; stored: Set<string> }> {
  const db = storage.db;
  const problems: string[] = [];
  let overruns = 0;
  const actions = await db
    .selectFrom("actions")
    .select(["id", "grant_id", "scope", "seq", "ord", "payload", "received_at"])
    .execute();
  const stored = new Set(actions.map((a) => a.id));
  for (const a of actions) {
    if (actionIdOf(JSON.parse(a.payload) as ActionPayload) !== a.id)
      problems.push(`action ${a.id}: id does not match its payload`);
  }
  const grants = new Set((await db.selectFrom("grants").select("id").execute()).map((g) => g.id));
  for (const a of actions)
    if (!grants.has(a.grant_id)) problems.push(`orphan action ${a.id} of ${a.grant_id}`);
  const states = await db.selectFrom("sessions").select(["grant_id", "state"]).execute();
  for (const row of states)
    if (!grants.has(row.grant_id)) problems.push(`orphan session ${row.grant_id}`);
  const byGrant = new Map<string, typeof actions>();
  for (const a of actions) byGrant.set(a.grant_id, [...(byGrant.get(a.grant_id) ?? []), a]);
  for (const row of states) {
    const state = JSON.parse(row.state) as SessionState;
    const mine = byGrant.get(row.grant_id) ?? [];
    const posts = mine.filter((a) => a.scope === "post");
    if ((state.used.post ?? 0) !== posts.length)
      problems.push(
        `session ${row.grant_id}: state says ${state.used.post} posts, ${posts.length} stored`,
      );
    const maxSeq = Math.max(0, ...mine.map((a) => a.seq));
    if (state.maxSeq !== maxSeq)
      problems.push(`session ${row.grant_id}: state maxSeq ${state.maxSeq}, stored ${maxSeq}`);
    const maxOrd = Math.max(0, ...posts.map((a) => a.ord));
    if ((state.maxOrd.post ?? 0) !== maxOrd)
      problems.push(`session ${row.grant_id}: state maxOrd ${state.maxOrd.post}, stored ${maxOrd}`);
    const session = sessions.find((s) => s.grantId === row.grant_id);
    if (session === undefined) continue;
    const { total, perHour } = session.limit;
    // The whole test runs within an hour of the first post, so the rate bounds the count.
    const first = Math.min(...posts.map((a) => a.received_at));
    const inHour = posts.filter((a) => a.received_at < first + 3_600_000).length;
    if ((total !== null && posts.length > total) || (perHour !== null && inHour > perHour)) {
      overruns++;
      problems.push(
        `session ${row.grant_id}: ${posts.length} posts stored, cap ${total}, rate ${perHour}`,
      );
    }
    if (total !== null && posts.some((a) => a.ord > total))
      problems.push(`session ${row.grant_id}: an ordinal above the cap is stored`);
  }
  const logIds = await sql<{ n: number; distinct: number }>`
    SELECT count(*)::int AS n, count(DISTINCT log_id)::int AS distinct FROM (
      SELECT log_id FROM grants UNION ALL SELECT log_id FROM actions
      UNION ALL SELECT log_id FROM revocations UNION ALL SELECT log_id FROM equivocations
    ) ids`.execute(db);
  const ids = logIds.rows[0];
  if (ids === undefined || ids.n !== ids.distinct)
    problems.push(`log ids are not unique: ${ids?.n} rows, ${ids?.distinct} distinct`);
  return { problems, overruns, stored };
}

/** Resolves once the process is gone (reaped: the event loop must turn meanwhile). */
async function exited(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function crashTest(options: CrashOptions): Promise<CrashSummary> {
  const log = options.log ?? (() => {});
  const engine = options.engine;
  const databaseUrl = options.databaseUrl ?? DATABASE_URL;
  const schema = `crash_${process.pid}_${randomBytes(3).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "sesame-crash-"));
  const pgliteDir = join(dir, "pglite");
  const where = { pgliteDir, databaseUrl, schema };
  const nClients = options.clients ?? 4;
  // Sessions are added every round, so acknowledged actions keep growing while the older
  // sessions sit at their cap or rate and keep drawing refusals.
  const sessions: Session[] = [];
  const summary: CrashSummary = {
    engine,
    rounds: 0,
    acked: 0,
    found: 0,
    lost: 0,
    overruns: 0,
    inconsistencies: 0,
    killedBeforeAck: 0,
    killAfterAckMs: [],
    answers: {},
    problems: [],
  };
  const acked = new Set<string>();
  /** Sent, no answer (cut by a kill): sent again, byte for byte, after the restart. */
  let unanswered: { payload: ActionPayload; signature: string }[] = [];
  const count = (key: string) => {
    summary.answers[key] = (summary.answers[key] ?? 0) + 1;
  };
  const start = () =>
    startNode(
      engine === "postgres" ? { engine, databaseUrl, schema, poolSize: 4 } : { engine, pgliteDir },
    );

  try {
    for (let round = 1; round <= options.rounds; round++) {
      const node: NodeProcess = await start();
      const client = new Client(node.port, 32);
      const added = makeSessions(
        nClients * (options.sessionsPerClient ?? 2),
        Date.now(),
        options.caps,
      );
      for (const s of added) await client.json("POST", "/v1/grants", s.grant);
      sessions.push(...added);
      let running = true;
      let firstAck: (() => void) | undefined;
      const acknowledged = new Promise<void>((resolve) => {
        firstAck = resolve;
      });
      const retry = unanswered;
      unanswered = [];
      const send = async (batch: { payload: ActionPayload; signature: string }[]) => {
        const body =
          batch.length === 1 ? JSON.stringify(batch[0]) : JSON.stringify({ actions: batch });
        let reply: { status: number; text: string };
        try {
          reply = await client.request("POST", "/v1/actions", body);
        } catch {
          summary.answers.unanswered = (summary.answers.unanswered ?? 0) + batch.length;
          unanswered.push(...batch);
          return;
        }
        if (batch.length > 1 && reply.status !== 200) {
          count(String(reply.status));
          return;
        }
        type Item = { ok?: boolean; id?: string; code?: number };
        const items: Item[] =
          batch.length === 1
            ? [JSON.parse(reply.text) as Item]
            : (
                JSON.parse(reply.text) as {
                  results: { ok: boolean; id?: string; error?: { code: number } }[];
                }
              ).results.map((r): Item => (r.ok ? r : { code: r.error?.code ?? reply.status }));
        items.forEach((item, i) => {
          const a = batch[i];
          if (a === undefined) return;
          if ("ok" in item && item.ok === true && item.id !== undefined) {
            acked.add(item.id);
            count("ok");
            firstAck?.();
          } else count(String(item.code ?? reply.status));
        });
      };
      // Three requests in four go to this round's sessions, one to an older (exhausted) one.
      const flood = async (mine: Session[], fresh: Session[]) => {
        for (let i = 0; running; i++) {
          const pool = i % 4 === 3 || fresh.length === 0 ? mine : fresh;
          const s = pool[(i >> 2) % pool.length] as Session;
          const n = i % 5 === 0 ? 1 + (i % 4) : 1;
          await send(Array.from({ length: n }, () => signPost(s, `r${round} #${i}`)));
        }
      };
      const part = (list: Session[], c: number) => list.filter((_s, i) => i % nClients === c);
      // Everything the last kill cut off is sent again (batches of 100), none dropped.
      const resent = (async () => {
        while (retry.length > 0) await send(retry.splice(0, 100));
      })();
      const floods = Array.from({ length: nClients }, (_, c) =>
        flood(part(sessions, c), part(added, c)),
      );
      await resent;
      let timer: NodeJS.Timeout | undefined;
      const ackedInTime = await Promise.race([
        acknowledged.then(() => true),
        new Promise<false>((r) => {
          timer = setTimeout(() => r(false), FIRST_ACK_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      const ackAt = performance.now();
      if (ackedInTime)
        await new Promise((r) => setTimeout(r, Math.random() * (options.maxFloodMs ?? 1500)));
      else summary.killedBeforeAck++;
      process.kill(node.pid, "SIGKILL");
      const killAfterAck = Math.round(performance.now() - ackAt);
      if (ackedInTime) summary.killAfterAckMs.push(killAfterAck);
      running = false;
      await Promise.all(floods);
      client.close();
      await exited(node.pid);
      summary.rounds++;

      const storage = await openCheck(engine, where);
      try {
        const result = await check(storage, sessions);
        const lost = [...acked].filter((id) => !result.stored.has(id));
        summary.acked = acked.size;
        summary.found = acked.size - lost.length;
        summary.lost = lost.length;
        summary.overruns += result.overruns;
        summary.inconsistencies += result.problems.length - result.overruns;
        summary.problems.push(
          ...result.problems.slice(0, Math.max(0, 5 - summary.problems.length)),
        );
        for (const id of lost.slice(0, 3)) summary.problems.push(`acked and lost: ${id}`);
        log(
          `round ${round}/${options.rounds} (${engine}): killed ${ackedInTime ? `${killAfterAck} ms after the first ack` : `with no ack in ${FIRST_ACK_TIMEOUT_MS} ms`}; acked ${acked.size}, stored ${result.stored.size}, lost ${lost.length}, overruns ${result.overruns}, problems ${result.problems.length}`,
        );
      } finally {
        await storage.close();
      }
    }
  } finally {
    if (engine === "postgres")
      await dropSchema(databaseUrl, schema).catch((e) => log(`could not drop ${schema}: ${e}`));
    await rm(dir, { recursive: true, force: true });
  }
  return summary;
}
