import { describe, expect, it, onTestFinished } from "vitest";
import type { ServedPost, ServedProfile, ServedSession } from "../src/index.js";
import { seedDemo } from "../src/seed.js";
import { ENGINES, freshNode, get, startNode, testDatabase } from "./helpers.js";

type Page<T> = { items: T[]; next: string | null };

describe.each(ENGINES)("demo data (npm start's first start) on %s", (engine) => {
  it("seeds wallets, sessions, profiles, posts, replies, follows and reactions once, served by the reads", async () => {
    const { url, node } = await freshNode(engine);
    const seed = await seedDemo(node.ctx);
    expect(seed.seeded).toBe(true);
    expect(seed.wallets).toHaveLength(4);
    const [alice, bob, carol, dave] = seed.wallets as [string, string, string, string];

    // The global feed: eight posts, newest first, by all four wallets.
    const feed = await get<Page<ServedPost>>(url, "/v1/feed");
    expect(feed.status).toBe(200);
    expect(feed.body.items).toHaveLength(8);
    expect(feed.body.next).toBeNull();
    const logIds = feed.body.items.map((p) => p.logId);
    expect(logIds).toEqual([...logIds].sort((a, b) => b - a));
    expect(new Set(feed.body.items.map((p) => p.wallet))).toEqual(new Set(seed.wallets));

    // The first post has a reply and a reply to that reply, and three likes.
    const first = feed.body.items.at(-1) as ServedPost;
    expect(first.wallet).toBe(alice);
    expect(first.replies).toBe(1);
    expect(first.reactions).toEqual({ like: 3 });
    const thread = await get<{ root: ServedPost; replies: Page<ServedPost> }>(
      url,
      `/v1/posts/${first.id}/thread`,
    );
    expect(thread.body.root.id).toBe(first.id);
    expect(thread.body.replies.items.map((r) => r.wallet)).toEqual([bob, carol]);
    const reactions = await get<{ counts: Record<string, number>; items: { wallet: string }[] }>(
      url,
      `/v1/posts/${first.id}/reactions`,
    );
    expect(reactions.body.counts).toEqual({ like: 3 });
    expect(new Set(reactions.body.items.map((r) => r.wallet))).toEqual(new Set([bob, carol, dave]));

    // Profiles and follows: Alice is followed by the three others and follows Bob and Carol.
    const profile = await get<ServedProfile>(url, `/v1/wallets/${alice}/profile`);
    expect(profile.body).toMatchObject({
      displayName: "Alice",
      posts: 2,
      followers: 3,
      following: 2,
    });
    const following = await get<Page<ServedPost>>(url, `/v1/wallets/${alice}/following-feed`);
    expect(new Set(following.body.items.map((p) => p.wallet))).toEqual(new Set([bob, carol]));

    // Each wallet holds one live session, its usage counted.
    for (const wallet of seed.wallets) {
      const sessions = await get<Page<ServedSession>>(url, `/v1/wallets/${wallet}/sessions`);
      expect(sessions.body.items).toHaveLength(1);
      expect(sessions.body.items[0]?.status).toBe("active");
    }

    // A second start seeds nothing more.
    expect(await seedDemo(node.ctx)).toEqual({ seeded: false, wallets: [] });
    const again = await get<Page<ServedPost>>(url, "/v1/feed");
    expect(again.body.items.map((p) => p.id)).toEqual(feed.body.items.map((p) => p.id));
  }, 60_000);
});

describe("demo data on one PostgreSQL schema shared by two nodes", () => {
  it("is seeded once when both nodes start seeding at the same moment", async () => {
    const database = await testDatabase("postgres");
    onTestFinished(() => database.cleanup());
    const a = await startNode(await database.open());
    onTestFinished(() => a.close());
    const b = await startNode(await database.open());
    onTestFinished(() => b.close());
    const [sa, sb] = await Promise.all([seedDemo(a.node.ctx), seedDemo(b.node.ctx)]);
    expect([sa.seeded, sb.seeded].sort()).toEqual([false, true]);
    for (const url of [a.url, b.url]) {
      const feed = await get<Page<ServedPost>>(url, "/v1/feed");
      expect(feed.body.items).toHaveLength(8);
      expect(new Set(feed.body.items.map((p) => p.wallet)).size).toBe(4);
    }
  }, 60_000);
});
