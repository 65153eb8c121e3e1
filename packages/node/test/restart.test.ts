import { describe, expect, it, onTestFinished } from "vitest";
import type { ServedPost, ServedSession } from "../src/index.js";
import {
  type AcceptedItem,
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  get,
  post,
  postBody,
  revocation,
  session,
  startNode,
  TestSession,
  testDatabase,
} from "./helpers.js";

type Page = { items: ServedPost[]; next: string | null };

describe.each(ENGINES)("restart on %s", (engine) => {
  it("keeps everything accepted across a restart, and posting goes on with the next seq", async () => {
    const database = await testDatabase(engine, { persistent: true });
    onTestFinished(() => database.cleanup());

    const first = await startNode(await database.open());
    let closed = false;
    onTestFinished(async () => {
      if (!closed) await first.close();
    });
    const alice = await session(first.url, "alice", "alice-s1", {
      scopes: ["post"],
      limits: { post: { total: 100, perHour: null } },
      tipBudget: null,
    });
    const bob = await session(first.url, "bob", "bob-s1");
    const accepted: AcceptedItem[] = [];
    for (let i = 0; i < 12; i++)
      accepted.push(await accept(first.url, alice.sign("post", postBody(`p${i}`))));
    const batch = await post<{ results: AcceptedItem[] }>(first.url, "/v1/actions", {
      actions: Array.from({ length: 8 }, (_, i) => alice.sign("post", postBody(`b${i}`))),
    });
    accepted.push(...batch.body.results);
    const last = alice.sign("post", postBody("last before restart"));
    accepted.push(await accept(first.url, last));
    await post(
      first.url,
      "/v1/revocations",
      revocation(bob.walletKey, { kind: "grant", grant: bob.grantId }),
    );
    await first.close();
    closed = true;

    const second = await startNode(await database.open(), { now: first.clock.now() });
    onTestFinished(() => second.close());
    const feed = await get<Page>(second.url, "/v1/feed?limit=100");
    expect(feed.body.items.map((p) => p.id)).toEqual(accepted.map((a) => a.id).reverse());
    const sessions = await get<{ items: ServedSession[] }>(
      second.url,
      `/v1/wallets/${alice.wallet}/sessions`,
    );
    expect(sessions.body.items[0]).toMatchObject({ status: "active", used: { post: 21 } });

    // The same session goes on where it stopped: a re-sent action is the same answer...
    const again = await post<AcceptedItem>(second.url, "/v1/actions", last);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...accepted.at(-1), duplicate: true });
    // ...a reused sequence number is caught as equivocation even after the restart...
    const resumed = new TestSession(alice.fixture, alice.grantId);
    const next = await accept(second.url, alice.sign("post", postBody("after restart")));
    expect(next.logId).toBeGreaterThan(accepted.at(-1)?.logId ?? Number.POSITIVE_INFINITY);
    expectRefusal(
      await post(second.url, "/v1/actions", resumed.sign("post", postBody("replayed seq 1"))),
      409,
      ErrorCode.EQUIVOCATION,
    );
    // ...and the revocation is still in force.
    expectRefusal(
      await post(second.url, "/v1/actions", bob.sign("post", postBody("revoked"))),
      403,
      ErrorCode.SESSION_REVOKED,
    );
  });
});
