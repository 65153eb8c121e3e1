import { grantIdOfText, toBase58 } from "@sesame/protocol";
import { describe, expect, it } from "vitest";
import { DAY, makeGrant, T0 } from "../../protocol/scripts/fixtures.js";
import type { ServedAction, ServedPost, ServedProfile, ServedSession } from "../src/index.js";
import {
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  followBody,
  freshNode,
  get,
  post,
  postBody,
  profileBody,
  reactBody,
  registerSession,
  replyBody,
  revocation,
  session,
} from "./helpers.js";

type Page = { items: ServedPost[]; next: string | null };
type Thread = { root: ServedPost; replies: Page };
type Reactions = {
  counts: Record<string, number>;
  items: {
    wallet: string;
    reaction: string;
    ts: number;
    action: string;
    logId: number;
    signed: ServedAction;
  }[];
  next: string | null;
};

/** Follows `next` from the first page to the end; every page as served. */
async function allPages(url: string, path: string, limit: number): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = "";
  while (cursor !== null) {
    const sep = path.includes("?") ? "&" : "?";
    const q: string = cursor === "" ? "" : `&cursor=${cursor}`;
    const reply = await get<Page>(url, `${path}${sep}limit=${limit}${q}`);
    expect(reply.status).toBe(200);
    pages.push(reply.body);
    cursor = reply.body.next;
  }
  return pages;
}

describe.each(ENGINES)("reads over HTTP on %s", (engine) => {
  it("GET /v1/feed pages newest first by cursor: stable, no duplicates, no gaps", async () => {
    const { url, clock } = await freshNode(engine);
    const wallets = await Promise.all(["alice", "bob", "carol"].map((w) => session(url, w)));
    const [alice] = wallets;
    if (alice === undefined) throw new Error("unreachable");
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const s = wallets[i % 3] ?? alice;
      clock.advance(1000);
      ids.push((await accept(url, s.sign("post", postBody(`post ${i}`), { ts: clock.now() }))).id);
      // Replies and reactions are not feed items.
      if (i % 5 === 0) await accept(url, s.sign("react", reactBody(ids[i] as string)));
    }
    const newestFirst = [...ids].reverse();

    const pages = await allPages(url, "/v1/feed", 7);
    expect(pages.map((p) => p.items.length)).toEqual([7, 7, 7, 4]);
    expect(pages.flatMap((p) => p.items.map((i) => i.id))).toEqual(newestFirst);
    const logIds = pages.flatMap((p) => p.items.map((i) => i.logId));
    expect(logIds).toEqual([...logIds].sort((a, b) => b - a));
    expect(pages.at(-1)?.next).toBeNull();

    // A post arriving between two pages does not shift the pages after the cursor.
    const first = await get<Page>(url, "/v1/feed?limit=10");
    const late = await accept(url, alice.sign("post", postBody("late"), { ts: clock.now() }));
    const second = await get<Page>(url, `/v1/feed?limit=10&cursor=${first.body.next}`);
    expect([...first.body.items, ...second.body.items].map((i) => i.id)).toEqual(
      newestFirst.slice(0, 20),
    );
    const fresh = await get<Page>(url, "/v1/feed?limit=1");
    expect(fresh.body.items[0]?.id).toBe(late.id);

    expectRefusal(await get(url, "/v1/feed?limit=101"), 400, ErrorCode.INVALID_FIELD);
    expectRefusal(await get(url, "/v1/feed?cursor=abc"), 400, ErrorCode.INVALID_FIELD);
  });

  it("GET /v1/wallets/:w/following-feed serves posts of followed wallets only", async () => {
    const { url, clock } = await freshNode(engine);
    const [alice, bob, carol, dave] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((w) => session(url, w)),
    );
    if (!alice || !bob || !carol || !dave) throw new Error("unreachable");
    await accept(url, alice.sign("follow", followBody(bob.wallet)));
    await accept(url, alice.sign("follow", followBody(carol.wallet)));
    const expected: string[] = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(1000);
      const ts = clock.now();
      expected.unshift((await accept(url, bob.sign("post", postBody(`bob ${i}`), { ts }))).id);
      const c = await accept(url, carol.sign("post", postBody(`carol ${i}`), { ts }));
      expected.unshift(c.id);
      await accept(url, dave.sign("post", postBody(`dave ${i}`), { ts }));
      await accept(url, alice.sign("post", postBody(`alice ${i}`), { ts }));
    }
    const path = `/v1/wallets/${alice.wallet}/following-feed`;
    const pages = await allPages(url, path, 3);
    expect(pages.flatMap((p) => p.items.map((i) => i.id))).toEqual(expected);
    expect(new Set(pages.flatMap((p) => p.items.map((i) => i.wallet)))).toEqual(
      new Set([bob.wallet, carol.wallet]),
    );

    clock.advance(1000);
    await accept(url, alice.sign("unfollow", followBody(carol.wallet), { ts: clock.now() }));
    const after = await get<Page>(url, path);
    expect(after.body.items.map((i) => i.wallet)).toEqual(Array(4).fill(bob.wallet));
    const nobody = await get<Page>(url, `/v1/wallets/${dave.wallet}/following-feed`);
    expect(nobody.body).toEqual({ items: [], next: null });
  });

  it("GET /v1/posts/:id and /thread serve a post, replies of replies, in conversation order", async () => {
    const { url } = await freshNode(engine);
    const [alice, bob, carol] = await Promise.all(
      ["alice", "bob", "carol"].map((w) => session(url, w)),
    );
    if (!alice || !bob || !carol) throw new Error("unreachable");
    const root = await accept(url, alice.sign("post", postBody("root")));
    const other = await accept(url, bob.sign("post", postBody("another thread")));
    const r1 = await accept(url, bob.sign("reply", replyBody(root.id, "r1")));
    const r2 = await accept(url, carol.sign("reply", replyBody(r1.id, "r2 to r1")));
    await accept(url, alice.sign("reply", replyBody(other.id, "elsewhere")));
    const r3 = await accept(url, alice.sign("reply", replyBody(root.id, "r3")));
    const r4 = await accept(url, bob.sign("reply", replyBody(r2.id, "r4 to r2")));
    const like = await accept(url, carol.sign("react", reactBody(root.id)));

    const served = await get<ServedPost>(url, `/v1/posts/${root.id}`);
    expect(served.status).toBe(200);
    expect(served.body).toEqual({
      id: root.id,
      logId: root.logId,
      kind: "post",
      wallet: alice.wallet,
      grant: alice.grantId,
      receivedAt: expect.any(Number),
      payload: alice.sign("post", postBody("root"), { seq: 1, ord: 1 }).payload,
      signature: alice.sign("post", postBody("root"), { seq: 1, ord: 1 }).signature,
      replies: 2,
      reactions: { like: 1 },
    });
    expect((await get<ServedPost>(url, `/v1/posts/${r2.id}`)).body).toMatchObject({
      kind: "reply",
      replies: 1,
    });

    const replies = [r1.id, r2.id, r3.id, r4.id];
    for (const from of [root.id, r2.id, r4.id]) {
      const t = await get<Thread>(url, `/v1/posts/${from}/thread`);
      expect(t.status).toBe(200);
      expect(t.body.root.id).toBe(root.id);
      expect(t.body.replies.items.map((r) => r.id)).toEqual(replies);
      expect(t.body.replies.next).toBeNull();
    }
    const page1 = await get<Thread>(url, `/v1/posts/${root.id}/thread?limit=3`);
    expect(page1.body.replies.items.map((r) => r.id)).toEqual(replies.slice(0, 3));
    const page2 = await get<Thread>(
      url,
      `/v1/posts/${root.id}/thread?limit=3&cursor=${page1.body.replies.next}`,
    );
    expect(page2.body.replies).toMatchObject({ next: null });
    expect(page2.body.replies.items.map((r) => r.id)).toEqual([r4.id]);

    const missing = grantIdOfText(makeGrant("nobody").text); // well formed, but no post
    expectRefusal(await get(url, `/v1/posts/${missing}`), 404, ErrorCode.NOT_FOUND);
    expectRefusal(await get(url, `/v1/posts/${missing}/thread`), 404, ErrorCode.NOT_FOUND);
    // A reaction is not a post.
    expectRefusal(await get(url, `/v1/posts/${like.id}`), 404, ErrorCode.NOT_FOUND);
  });

  it("GET /v1/posts/:id/reactions follows react and unreact", async () => {
    const { url, clock } = await freshNode(engine);
    const [alice, bob, carol] = await Promise.all(
      ["alice", "bob", "carol"].map((w) => session(url, w)),
    );
    if (!alice || !bob || !carol) throw new Error("unreachable");
    const target = await accept(url, alice.sign("post", postBody("react to me")));
    const at = () => {
      clock.advance(1000);
      return { ts: clock.now() };
    };
    await accept(url, bob.sign("react", reactBody(target.id, "like"), at()));
    await accept(url, carol.sign("react", reactBody(target.id, "like"), at()));
    await accept(url, carol.sign("react", reactBody(target.id, "fire"), at()));
    const path = `/v1/posts/${target.id}/reactions`;
    expect((await get<Reactions>(url, path)).body.counts).toEqual({ like: 2, fire: 1 });

    await accept(url, bob.sign("unreact", reactBody(target.id, "like"), at()));
    const after = await get<Reactions>(url, path);
    expect(after.body.counts).toEqual({ like: 1, fire: 1 });
    expect(after.body.items.map((i) => [i.wallet, i.reaction])).toEqual([
      [carol.wallet, "fire"],
      [carol.wallet, "like"],
    ]);
    // Each item carries the react action that set it, exactly as signed (a reader verifies it).
    for (const i of after.body.items) {
      expect(Object.keys(i).sort()).toEqual(
        ["action", "logId", "reaction", "signed", "ts", "wallet"].sort(),
      );
      expect(i.signed).toMatchObject({
        id: i.action,
        logId: i.logId,
        kind: "react",
        wallet: i.wallet,
      });
      expect(i.signed.payload).toMatchObject({
        ts: i.ts,
        body: { target: target.id, reaction: i.reaction },
      });
    }
    expect((await get<ServedPost>(url, `/v1/posts/${target.id}`)).body.reactions).toEqual({
      like: 1,
      fire: 1,
    });
    // Reacting again counts again; an unreact older than the react does not undo it.
    await accept(url, bob.sign("react", reactBody(target.id, "like"), at()));
    const stale = clock.now() - 500;
    await accept(url, bob.sign("unreact", reactBody(target.id, "like"), { ts: stale }));
    expect((await get<Reactions>(url, path)).body.counts).toEqual({ like: 2, fire: 1 });
    const none = await accept(url, alice.sign("post", postBody("quiet")));
    expect((await get(url, `/v1/posts/${none.id}/reactions`)).body).toEqual({
      counts: {},
      items: [],
      next: null,
    });
    // Paged newest first; the counts always cover every reaction.
    const first = await get<Reactions>(url, `${path}?limit=2`);
    expect(first.body.counts).toEqual({ like: 2, fire: 1 });
    expect(first.body.items.map((i) => [i.wallet, i.reaction])).toEqual([
      [bob.wallet, "like"],
      [carol.wallet, "fire"],
    ]);
    expect(first.body.next).not.toBeNull();
    const second = await get<Reactions>(url, `${path}?limit=2&cursor=${first.body.next}`);
    expect(second.body.items.map((i) => [i.wallet, i.reaction])).toEqual([[carol.wallet, "like"]]);
    expect(second.body.next).toBeNull();
    // No such post: 404, not an empty list.
    const missing = await get(url, `/v1/posts/${toBase58(new Uint8Array(32).fill(7))}/reactions`);
    expectRefusal(missing, 404, ErrorCode.NOT_FOUND);
  });

  it("GET /v1/wallets/:w/profile counts posts, followers and following; latest profile wins", async () => {
    const { url, clock } = await freshNode(engine);
    const [alice, bob, carol] = await Promise.all(
      ["alice", "bob", "carol"].map((w) => session(url, w)),
    );
    if (!alice || !bob || !carol) throw new Error("unreachable");
    const p1 = await accept(url, alice.sign("post", postBody("one")));
    await accept(url, alice.sign("post", postBody("two")));
    await accept(url, alice.sign("reply", replyBody(p1.id, "a reply is not a post")));
    await accept(url, bob.sign("follow", followBody(alice.wallet)));
    await accept(url, carol.sign("follow", followBody(alice.wallet)));
    await accept(url, alice.sign("follow", followBody(bob.wallet)));
    await accept(url, alice.sign("profile", profileBody("Al", "first")));
    clock.advance(1000);
    const latest = await accept(
      url,
      alice.sign("profile", profileBody("Alice", "second"), { ts: clock.now() }),
    );
    const reply = await get<ServedProfile>(url, `/v1/wallets/${alice.wallet}/profile`);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      wallet: alice.wallet,
      displayName: "Alice",
      bio: "second",
      avatarUrl: "",
      updatedBy: latest.id,
      posts: 2,
      followers: 2,
      following: 1,
      // The signed action the fields come from, so a reader verifies them.
      action: expect.objectContaining({ id: latest.id, kind: "profile", wallet: alice.wallet }),
    });
    const stranger = makeGrant("stranger").wallet.address;
    expect((await get(url, `/v1/wallets/${stranger}/profile`)).body).toEqual({
      wallet: stranger,
      displayName: "",
      bio: "",
      avatarUrl: "",
      updatedBy: null,
      posts: 0,
      followers: 0,
      following: 0,
      action: null,
    });
    expectRefusal(await get(url, "/v1/wallets/not-a-wallet/profile"), 400, ErrorCode.INVALID_FIELD);
  });

  it("GET /v1/wallets/:w/posts serves one wallet's posts, newest first, without replies", async () => {
    const { url } = await freshNode(engine);
    const [alice, bob] = await Promise.all(["alice", "bob"].map((w) => session(url, w)));
    if (!alice || !bob) throw new Error("unreachable");
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await accept(url, alice.sign("post", postBody(`mine ${i}`)));
      mine.unshift(p.id);
      await accept(url, bob.sign("post", postBody(`theirs ${i}`)));
      await accept(url, alice.sign("reply", replyBody(p.id, "self reply")));
    }
    const pages = await allPages(url, `/v1/wallets/${alice.wallet}/posts`, 2);
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap((p) => p.items.map((i) => i.id))).toEqual(mine);
    expect(pages.flatMap((p) => p.items.map((i) => i.replies))).toEqual([1, 1, 1, 1, 1]);
  });

  it("GET /v1/wallets/:w/sessions lists app, device, scopes, limits, usage, expiry and status", async () => {
    const { url, clock } = await freshNode(engine);
    const mainGrant = makeGrant("alice", "alice-phone", { device: "Alice's phone" });
    const main = await registerSession(url, mainGrant);
    const later = await registerSession(
      url,
      makeGrant("alice", "alice-later", {
        issuedAt: T0 + 1000,
        notBefore: clock.now() + DAY,
        expirationTime: clock.now() + 8 * DAY,
        scopes: ["post"],
        limits: { post: { total: 3, perHour: 1 } },
        tipBudget: null,
      }),
    );
    const revoked = await registerSession(
      url,
      makeGrant("alice", "alice-old", { issuedAt: T0 - 1000, notBefore: T0 - 1000 }),
    );
    await session(url, "bob");
    const p = await accept(url, main.sign("post", postBody("one")));
    await accept(url, main.sign("post", postBody("two")));
    await accept(url, main.sign("react", reactBody(p.id)));
    expect(
      (
        await post(
          url,
          "/v1/revocations",
          revocation(main.walletKey, { kind: "grant", grant: revoked.grantId }),
        )
      ).status,
    ).toBe(200);

    const reply = await get<{ items: ServedSession[]; next: string | null }>(
      url,
      `/v1/wallets/${main.wallet}/sessions`,
    );
    expect(reply.status).toBe(200);
    // Three sessions fit the default page (100): no next page.
    expect(reply.body.next).toBeNull();
    expect(reply.body.items.map((s) => [s.grant, s.status])).toEqual([
      [later.grantId, "pending"],
      [main.grantId, "active"],
      [revoked.grantId, "revoked"],
    ]);
    const g = mainGrant.grant;
    expect(reply.body.items[1]).toEqual({
      grant: main.grantId,
      app: "app.sesame.test",
      device: "Alice's phone",
      sessionKey: g.sessionKey,
      encryptionKey: g.encryptionKey,
      scopes: [...g.scopes],
      limits: JSON.parse(JSON.stringify(g.limits)),
      tipBudget: JSON.parse(JSON.stringify(g.tipBudget)),
      used: { post: 2, react: 1 },
      // The highest sequence and ordinals stored: a client restored from a backup
      // resumes above them (no equivocation).
      maxSeq: 3,
      maxOrd: { post: 2, react: 1 },
      issuedAt: g.issuedAt,
      notBefore: g.notBefore,
      expirationTime: g.expirationTime,
      status: "active",
      revokedAt: null,
      revokedBy: null,
      compromisedSince: null,
      text: mainGrant.text,
      signature: mainGrant.signature,
    });
    expect(reply.body.items[0]).toMatchObject({
      scopes: ["post"],
      limits: { post: { total: 3, perHour: 1 } },
      tipBudget: null,
      used: {},
    });
    expect(reply.body.items[2]).toMatchObject({ revokedBy: "revocation", revokedAt: clock.now() });

    // Past its expiration the main session is listed as expired.
    clock.set(g.expirationTime);
    const expired = await get<{ items: ServedSession[] }>(
      url,
      `/v1/wallets/${main.wallet}/sessions`,
    );
    expect(expired.body.items.map((s) => s.status)).toEqual(["active", "expired", "revoked"]);
    const stranger = makeGrant("stranger").wallet.address;
    expect((await get(url, `/v1/wallets/${stranger}/sessions`)).body).toEqual({
      items: [],
      next: null,
    });
  });

  it("GET /v1/wallets/:w/sessions pages by <issuedAt>:<grantId>: stable, no duplicates, no gaps", async () => {
    const { url } = await freshNode(engine);
    // Seven sessions, three of them issued at the same millisecond: ties go by grant id.
    const issued = [T0 - 3000, T0 - 2000, T0 - 2000, T0 - 2000, T0 - 1000, T0, T0];
    const grants: { grant: string; issuedAt: number }[] = [];
    for (const [i, issuedAt] of issued.entries()) {
      const s = await registerSession(
        url,
        makeGrant("alice", `alice-page-${i}`, { issuedAt, notBefore: issuedAt }),
      );
      grants.push({ grant: s.grantId, issuedAt });
    }
    const expected = [...grants]
      .sort((a, b) => b.issuedAt - a.issuedAt || (a.grant < b.grant ? -1 : 1))
      .map((g) => g.grant);
    const wallet = makeGrant("alice").wallet.address;
    type SessionsPage = { items: ServedSession[]; next: string | null };
    const pages: SessionsPage[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const q: string = cursor === "" ? "" : `&cursor=${cursor}`;
      const reply = await get<SessionsPage>(url, `/v1/wallets/${wallet}/sessions?limit=3${q}`);
      expect(reply.status).toBe(200);
      pages.push(reply.body);
      cursor = reply.body.next;
    }
    expect(pages.map((p) => p.items.length)).toEqual([3, 3, 1]);
    expect(pages.flatMap((p) => p.items.map((i) => i.grant))).toEqual(expected);
    const first = pages[0]?.items[2];
    expect(pages[0]?.next).toBe(`${first?.issuedAt}:${first?.grant}`);
    // A page that ends exactly at the last session says so on the next request.
    const exact = await get<SessionsPage>(url, `/v1/wallets/${wallet}/sessions?limit=7`);
    expect(exact.body.items).toHaveLength(7);
    const after = await get<SessionsPage>(
      url,
      `/v1/wallets/${wallet}/sessions?limit=7&cursor=${exact.body.next}`,
    );
    expect(after.body).toEqual({ items: [], next: null });

    for (const bad of ["12", "abc:def", `${T0}:`, `:${expected[0]}`, `x${T0}:${expected[0]}`]) {
      expectRefusal(
        await get(url, `/v1/wallets/${wallet}/sessions?cursor=${encodeURIComponent(bad)}`),
        400,
        ErrorCode.INVALID_FIELD,
      );
    }
    const malformed = await get<{ context: { field: string } }>(
      url,
      `/v1/wallets/${wallet}/sessions?cursor=12`,
    );
    expect(malformed.body.context.field).toBe("query.cursor");
    for (const limit of ["0", "101", "x"]) {
      const reply = await get<{ context: { field: string } }>(
        url,
        `/v1/wallets/${wallet}/sessions?limit=${limit}`,
      );
      expectRefusal(reply, 400, ErrorCode.INVALID_FIELD);
      expect(reply.body.context.field).toBe("query.limit");
    }
  });
});
