/**
 * The sync endpoint's format and cursor, and the rules a node applies to what peers send:
 * late arrival after a partition, passing refusals deferred and retried, rates per node.
 * In-process nodes with clocks the test moves; the multi-process scenarios are in
 * federation.test.ts.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { DAY, TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import { createNode, type Federation, type PeerStatus, readSyncPage } from "../src/index.js";
import {
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  freshNode,
  get,
  NOW,
  post,
  postBody,
  session,
  type TestClock,
  testDatabase,
} from "./helpers.js";

interface SyncPage {
  items: { logId: number; type: string; id: string; message: unknown }[];
  next: string;
  head: number;
}

/** A node that pulls `peers`, on a fresh database, with its own clock; closed after the test. */
async function follower(engine: (typeof ENGINES)[number], peers: string[], now: number) {
  const database = await testDatabase(engine);
  let t = now;
  const node = await createNode({
    database: await database.open(),
    config: { verify: TEST_CONTEXT },
    clock: () => t,
    peers,
    // Pulled only when the test says so.
    sync: { intervalMs: 3_600_000, nudge: false, log: () => {} },
  });
  const url = await node.app.listen({ port: 0, host: "127.0.0.1" });
  onTestFinished(async () => {
    await node.close();
    await database.cleanup();
  });
  const clock: TestClock = {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
  const federation = node.ctx.federation as Federation;
  return {
    url,
    clock,
    async pull(): Promise<PeerStatus> {
      await federation.syncNow();
      return (await federation.status())[0] as PeerStatus;
    },
  };
}

describe.each(ENGINES)("federation rules on %s", (engine) => {
  it("GET /v1/sync serves the log in order by cursor, each item the signed message", async () => {
    const a = await freshNode(engine);
    const alice = await session(a.url, "alice-sync-page");
    const posts = [];
    for (let i = 0; i < 5; i++)
      posts.push(await accept(a.url, alice.sign("post", postBody(`p${i}`))));
    const all = await get<SyncPage>(a.url, "/v1/sync");
    expect(all.status).toBe(200);
    expect(all.body.items.map((i) => i.type)).toEqual(["grant", ...posts.map(() => "action")]);
    expect(all.body.items.map((i) => i.id)).toEqual([alice.grantId, ...posts.map((p) => p.id)]);
    expect(all.body.items[0]?.message).toEqual({
      text: alice.fixture.text,
      signature: alice.fixture.signature,
    });
    expect(all.body.head).toBe(posts[4]?.logId);
    expect(all.body.next).toBe(String(posts[4]?.logId));
    // Pages of two follow the cursor; the last short page moves it to the head.
    const first = await get<SyncPage>(a.url, "/v1/sync?limit=2");
    expect(first.body.items).toHaveLength(2);
    const second = await get<SyncPage>(a.url, `/v1/sync?limit=2&after=${first.body.next}`);
    expect(second.body.items.map((i) => i.id)).toEqual([posts[1]?.id, posts[2]?.id]);
    const end = await get<SyncPage>(a.url, `/v1/sync?after=${all.body.next}`);
    expect(end.body).toEqual({ items: [], next: all.body.next, head: all.body.head });
    expectRefusal(await get(a.url, "/v1/sync?limit=0"), 400, ErrorCode.INVALID_FIELD);
    expectRefusal(await get(a.url, "/v1/sync?after=-1"), 400, ErrorCode.INVALID_FIELD);
    expectRefusal(await get(a.url, "/v1/sync?limit=5001"), 400, ErrorCode.INVALID_FIELD);
  });

  it("a page stops early at its size bound, and the cursor resumes after its last item", async () => {
    const a = await freshNode(engine);
    const erin = await session(a.url, "erin-page-size");
    for (let i = 0; i < 6; i++)
      await accept(a.url, erin.sign("post", postBody(`${i}`.repeat(900))));
    const db = a.node.ctx.storage.db;
    const whole = await readSyncPage(db, 0, 100);
    expect(whole.count).toBe(7);
    // About 1,100 characters per post: a bound of 2,500 keeps two items after the grant...
    const pages: number[][] = [];
    let after = 0;
    for (;;) {
      const page = await readSyncPage(db, after, 100, 2500);
      const items = JSON.parse(page.json).items as { logId: number }[];
      if (items.length === 0) break;
      pages.push(items.map((i) => i.logId));
      expect(page.next).toBe(items.at(-1)?.logId);
      after = page.next;
    }
    // ...and a single item larger than the bound is still served alone.
    expect(pages.flat()).toEqual(
      (JSON.parse(whole.json).items as { logId: number }[]).map((i) => i.logId),
    );
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    expect((await readSyncPage(db, 0, 100, 10)).count).toBe(1);
  });

  it("a cursor reader misses nothing committed while it reads: log ids follow commit order", async () => {
    const a = await freshNode(engine);
    const seen: string[] = [];
    let writing = true;
    let after = "0";
    const read = async () => {
      const page = await get<SyncPage>(a.url, `/v1/sync?after=${after}&limit=7`);
      seen.push(...page.body.items.map((i) => `${i.type}:${i.id}`));
      after = page.body.next;
      return page.body.items.length;
    };
    const reader = (async () => {
      while (writing) await read();
      while ((await read()) > 0);
    })();
    // Grants and batches of actions committed concurrently, by many requests at once.
    await Promise.all(
      Array.from({ length: 12 }, async (_, w) => {
        const s = await session(a.url, `cursor-writer-${w}`);
        for (let k = 0; k < 4; k++) {
          const batch = Array.from({ length: 5 }, (_, i) =>
            s.sign("post", postBody(`w${w} b${k} #${i}`)),
          );
          const r = await post<{ results: { ok: boolean }[] }>(a.url, "/v1/actions", {
            actions: batch,
          });
          expect(r.body.results.every((x) => x.ok)).toBe(true);
        }
      }),
    );
    writing = false;
    await reader;
    const all = await get<SyncPage>(a.url, "/v1/sync?limit=5000");
    expect(all.body.items).toHaveLength(12 + 12 * 4 * 5);
    expect(seen).toEqual(all.body.items.map((i) => `${i.type}:${i.id}`));
  });

  it("accepts a peer's actions that arrive after the grant expired (within the peer grace), refuses them after it", async () => {
    const a = await freshNode(engine);
    const bob = await session(a.url, "bob-late");
    for (let i = 0; i < 3; i++) await accept(a.url, bob.sign("post", postBody(`p${i}`)));
    const expiry = bob.fixture.grant.expirationTime;
    // Two hours after expiry: a client's late delivery (10 minutes' grace) is refused...
    a.clock.set(expiry + 2 * 3_600_000);
    expectRefusal(
      await post(a.url, "/v1/actions", bob.sign("post", postBody("late"))),
      403,
      ErrorCode.SESSION_EXPIRED,
    );
    // ...but a node catching up from a peer at that time takes the grant and its actions.
    const b = await follower(engine, [a.url], expiry + 2 * 3_600_000);
    const status = await b.pull();
    expect(status).toMatchObject({ accepted: 4, refused: 0, lag: 0 });
    // A day and more after expiry, even a peer's copies are refused (not the peer's fault).
    const c = await follower(engine, [a.url], expiry + DAY + 1);
    const late = await c.pull();
    expect(late.accepted).toBe(0);
    expect(late.refusedByCode).toEqual({
      [String(ErrorCode.GRANT_EXPIRED)]: 1,
      [String(ErrorCode.GRANT_UNKNOWN)]: 3,
    });
    expect(late.failures).toBe(0);
  });

  it("defers an action stamped ahead of this node's clock and applies it once the clock has caught up", async () => {
    const a = await freshNode(engine);
    const carol = await session(a.url, "carol-skew");
    await accept(a.url, carol.sign("post", postBody("now")));
    const ahead = await accept(a.url, carol.sign("post", postBody("ahead"), { ts: NOW + 50_000 }));
    // b's clock is 50 s behind a's: the second post is too far in its future (60 s skew).
    const b = await follower(engine, [a.url], NOW - 50_000);
    const first = await b.pull();
    expect(first).toMatchObject({ accepted: 2, refused: 0, deferred: 1, lag: 0 });
    expect((await get(b.url, `/v1/posts/${ahead.id}`)).status).toBe(404);
    b.clock.set(NOW);
    const second = await b.pull();
    expect(second).toMatchObject({ accepted: 3, deferred: 0, refused: 0 });
    expect((await get(b.url, `/v1/posts/${ahead.id}`)).status).toBe(200);
  });

  it("does not apply its hourly rate again to a peer's actions; its own clients still get it", async () => {
    const a = await freshNode(engine);
    const dave = await session(a.url, "dave-rate", "dave-rate-1", {
      limits: { post: { total: 30, perHour: 10 } },
      scopes: ["post"],
      tipBudget: null,
    });
    for (let i = 0; i < 10; i++) await accept(a.url, dave.sign("post", postBody(`a${i}`)));
    const c = await follower(engine, [a.url], NOW);
    const status = await c.pull();
    expect(status).toMatchObject({ accepted: 11, refused: 0 });
    // c's own clients still get c's rate: 10 per hour from c's receipts, none used yet.
    for (let i = 0; i < 10; i++) await accept(c.url, dave.sign("post", postBody(`c${i}`)));
    expectRefusal(
      await post(c.url, "/v1/actions", dave.sign("post", postBody("c over"))),
      429,
      ErrorCode.OVER_RATE,
    );
  });
});
