/**
 * Two real node processes (the built package) on one PostgreSQL schema: the live stream
 * fans out through LISTEN/NOTIFY, and enforcement state is shared through the database.
 * PostgreSQL only: an embedded PGlite belongs to one process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import type { ServedProfile } from "../src/index.js";
import { dropSchema } from "../src/index.js";
import {
  accept,
  buildNodePackage,
  DATABASE_URL,
  ErrorCode,
  expectRefusal,
  get,
  listeningUrl,
  NOW,
  openStream,
  post,
  postBody,
  revocation,
  session,
} from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./fixtures/serve-node.mjs", import.meta.url));

interface NodeProcess {
  readonly url: string;
  readonly child: ChildProcess;
}

/** Starts the built node in a child process and waits for the URL it prints. */
async function spawnNode(schema: string): Promise<NodeProcess> {
  const child = spawn(process.execPath, [SCRIPT], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL,
      SESAME_SCHEMA: schema,
      SESAME_TEST_NOW: String(NOW),
      SESAME_CHAIN: TEST_CONTEXT.chain,
      SESAME_NETWORK: TEST_CONTEXT.network,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { url } = await listeningUrl(child);
  return { url, child };
}

async function stop(p: NodeProcess | undefined): Promise<void> {
  if (p === undefined || p.child.exitCode !== null) return;
  const exited = once(p.child, "exit");
  p.child.kill("SIGTERM");
  await exited;
}

describe("two node processes on one PostgreSQL schema", () => {
  const schema = `t_mp_${process.pid}_${randomBytes(4).toString("hex")}`;
  let a: NodeProcess | undefined;
  let b: NodeProcess | undefined;
  const urlOf = (p: NodeProcess | undefined) => {
    if (p === undefined) throw new Error("the node processes did not start");
    return p.url;
  };

  beforeAll(async () => {
    // The processes run the built package: build it (incremental, quick when fresh).
    await buildNodePackage();
    // Both start (and migrate the fresh schema) at once.
    const started = await Promise.allSettled([spawnNode(schema), spawnNode(schema)]);
    [a, b] = started.map((r) => (r.status === "fulfilled" ? r.value : undefined));
    for (const r of started) if (r.status === "rejected") throw r.reason;
  }, 180_000);

  afterAll(async () => {
    await Promise.all([stop(a), stop(b)]);
    await dropSchema(DATABASE_URL, schema);
  });

  it("a subscriber on B receives what A accepts, through LISTEN/NOTIFY", async () => {
    const alice = await session(urlOf(a), "alice-mp");
    const stream = await openStream(urlOf(b));
    const posted = [];
    for (const text of ["one", "two", "three"]) {
      posted.push(await accept(urlOf(a), alice.sign("post", postBody(text))));
    }
    const events = await stream.take(3);
    expect(events.map((e) => e.event)).toEqual(["action", "action", "action"]);
    expect(events.map((e) => (e.data as { id: string }).id)).toEqual(posted.map((p) => p.id));
    expect(events.map((e) => e.id)).toEqual(posted.map((p) => p.logId));
    // And B serves what A stored.
    const onB = await get<{ id: string }>(urlOf(b), `/v1/posts/${posted[0]?.id}`);
    expect(onB.status).toBe(200);
  });

  it("shares state: a revocation posted to A refuses the next action on B", async () => {
    const bob = await session(urlOf(a), "bob-mp");
    await accept(urlOf(b), bob.sign("post", postBody("via B, grant registered on A")));
    const reply = await post(
      urlOf(a),
      "/v1/revocations",
      revocation(bob.walletKey, { kind: "grant", grant: bob.grantId }),
    );
    expect(reply.status).toBe(200);
    expectRefusal(
      await post(urlOf(b), "/v1/actions", bob.sign("post", postBody("after revocation"))),
      403,
      ErrorCode.SESSION_REVOKED,
    );
  });

  it("keeps a cap exact when 200 parallel posts are split across both processes", async () => {
    const dave = await session(urlOf(b), "dave-mp", "dave-mp-s1", {
      scopes: ["post"],
      limits: { post: { total: 50, perHour: null } },
      tipBudget: null,
    });
    const actions = Array.from({ length: 200 }, (_, i) => dave.sign("post", postBody(`c${i}`)));
    const replies = await Promise.all(
      actions.map((action, i) => post(urlOf(i % 2 === 0 ? a : b), "/v1/actions", action)),
    );
    const accepted = replies.filter((r) => r.status === 201);
    expect(accepted).toHaveLength(50);
    const refused = replies.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(150);
    for (const r of refused) expectRefusal(r, 403, ErrorCode.OVER_CAP);
    // Both processes took part in what was accepted.
    const acceptedBy = new Set(
      replies.flatMap((r, i) => (r.status === 201 ? [i % 2 === 0 ? "a" : "b"] : [])),
    );
    expect(acceptedBy).toEqual(new Set(["a", "b"]));
    for (const p of [a, b]) {
      const profile = await get<ServedProfile>(urlOf(p), `/v1/wallets/${dave.wallet}/profile`);
      expect(profile.body.posts).toBe(50);
    }
  });

  it("stores exactly one of 60 different posts racing for one sequence number and ordinal across both processes, and revokes the session", async () => {
    // A session key that signs 60 different posts all at seq 1 and ord 1 (a forked
    // client, or a stolen key used beside the real one) and sends them at once to both
    // processes: the first committed is stored, the next is the equivocation (proof
    // stored, session revoked), the rest find the session revoked; never two stored.
    const erin = await session(urlOf(a), "erin-mp", "erin-mp-s1");
    const actions = Array.from({ length: 60 }, (_, i) =>
      erin.sign("post", postBody(`fork ${i}`), { seq: 1, ord: 1 }),
    );
    const replies = await Promise.all(
      actions.map((action, i) => post(urlOf(i % 2 === 0 ? a : b), "/v1/actions", action)),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    const refused = replies.filter((r) => r.status !== 201);
    const codes = refused.map((r) => (r.body as { code: number }).code);
    expect(codes.filter((c) => c === ErrorCode.EQUIVOCATION).length).toBeGreaterThanOrEqual(1);
    expect(
      codes.every((c) => c === ErrorCode.EQUIVOCATION || c === ErrorCode.SESSION_REVOKED),
      JSON.stringify(codes),
    ).toBe(true);
    for (const p of [a, b]) {
      const profile = await get<ServedProfile>(urlOf(p), `/v1/wallets/${erin.wallet}/profile`);
      expect(profile.body.posts).toBe(1);
      const sessions = await get<{ items: { grant: string; status: string }[] }>(
        urlOf(p),
        `/v1/wallets/${erin.wallet}/sessions`,
      );
      expect(sessions.body.items.find((x) => x.grant === erin.grantId)?.status).toBe("revoked");
    }
  });

  it("keeps a rate exact when 200 parallel posts are split across both processes", async () => {
    const carol = await session(urlOf(a), "carol-mp", "carol-mp-s1", {
      scopes: ["post"],
      limits: { post: { total: null, perHour: 30 } },
      tipBudget: null,
    });
    const actions = Array.from({ length: 200 }, (_, i) => carol.sign("post", postBody(`p${i}`)));
    const replies = await Promise.all(
      actions.map((action, i) => post(urlOf(i % 2 === 0 ? a : b), "/v1/actions", action)),
    );
    expect(replies.filter((r) => r.status === 201)).toHaveLength(30);
    for (const r of replies.filter((r) => r.status !== 201)) {
      expectRefusal(r, 429, ErrorCode.OVER_RATE);
    }
    const profile = await get<ServedProfile>(urlOf(b), `/v1/wallets/${carol.wallet}/profile`);
    expect(profile.body.posts).toBe(30);
  });
});
