import { describe, expect, it } from "vitest";
import { makeGrant, T0 } from "../../protocol/scripts/fixtures.js";
import type { ServedPost, ServedProfile, ServedSession } from "../src/index.js";
import {
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  followBody,
  freshNode,
  get,
  openStream,
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
type Sessions = { items: ServedSession[]; next: string | null };
type Reactions = { counts: Record<string, number>; items: { wallet: string; reaction: string }[] };

describe.each(ENGINES)("POST /v1/revocations on %s", (engine) => {
  it("revokes one session at once: listed as revoked, its next action refused, history kept", async () => {
    const { url, clock } = await freshNode(engine);
    const s1 = await session(url, "alice", "alice-s1");
    const s2 = await session(url, "alice", "alice-s2");
    const kept = await accept(url, s1.sign("post", postBody("before")));
    clock.advance(1000);
    const rev = revocation(s1.walletKey, { kind: "grant", grant: s1.grantId });
    const reply = await post(url, "/v1/revocations", rev);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      id: expect.any(String),
      revoked: [s1.grantId],
      duplicate: false,
      logId: expect.any(Number),
    });
    const again = await post(url, "/v1/revocations", rev);
    expect(again.body).toMatchObject({ duplicate: true, revoked: [] });

    const sessions = await get<Sessions>(url, `/v1/wallets/${s1.wallet}/sessions`);
    expect(sessions.body.next).toBeNull();
    const byGrant = new Map(sessions.body.items.map((s) => [s.grant, s]));
    expect(byGrant.get(s1.grantId)).toMatchObject({
      status: "revoked",
      revokedAt: clock.now(),
      revokedBy: "revocation",
      compromisedSince: null,
      // The wallet-signed revocation, so a reader verifies the status itself.
      revocation: {
        text: expect.stringContaining(`Revoke: session ${s1.grantId}`),
        signature: expect.any(String),
      },
    });
    expect(byGrant.get(s2.grantId)).toMatchObject({ status: "active", revokedAt: null });
    expect(byGrant.get(s2.grantId)).not.toHaveProperty("revocation");

    const refused = await post(url, "/v1/actions", s1.sign("post", postBody("after")));
    expectRefusal(refused, 403, ErrorCode.SESSION_REVOKED);
    expect(refused.body).toMatchObject({ context: { grantId: s1.grantId } });
    await accept(url, s2.sign("post", postBody("other session")));
    // Without "compromised since" what was accepted before stays.
    expect((await get(url, `/v1/posts/${kept.id}`)).status).toBe(200);
  });

  it("revokes every session issued before a time, and no later one", async () => {
    const { url } = await freshNode(engine);
    const old1 = await session(url, "alice", "alice-old1");
    const old2 = await session(url, "alice", "alice-old2");
    const fresh = await registerSession(
      url,
      makeGrant("alice", "alice-new", { issuedAt: T0 + 5000, notBefore: T0 + 5000 }),
    );
    const bob = await session(url, "bob");
    const reply = await post<{ revoked: string[] }>(
      url,
      "/v1/revocations",
      revocation(old1.walletKey, { kind: "all", issuedBefore: T0 + 5000 }),
    );
    expect(reply.status).toBe(200);
    expect([...reply.body.revoked].sort()).toEqual([old1.grantId, old2.grantId].sort());
    for (const s of [old1, old2]) {
      expectRefusal(
        await post(url, "/v1/actions", s.sign("post", postBody("x"))),
        403,
        ErrorCode.SESSION_REVOKED,
      );
    }
    await accept(url, fresh.sign("post", postBody("still here")));
    await accept(url, bob.sign("post", postBody("not alice")));
    const sessions = await get<Sessions>(url, `/v1/wallets/${old1.wallet}/sessions`);
    expect(Object.fromEntries(sessions.body.items.map((s) => [s.grant, s.status]))).toEqual({
      [old1.grantId]: "revoked",
      [old2.grantId]: "revoked",
      [fresh.grantId]: "active",
    });
    for (const s of sessions.body.items.filter((s) => s.status === "revoked"))
      expect(s.revocation?.text).toContain("Revoke: all sessions issued before");
  });

  it("refuses a revocation signed by another wallet, for another network, or badly signed", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const bob = await session(url, "bob");
    // Bob signs a revocation naming his own wallet but alice's session.
    expectRefusal(
      await post(
        url,
        "/v1/revocations",
        revocation(bob.walletKey, { kind: "grant", grant: alice.grantId }),
      ),
      403,
      ErrorCode.REVOCATION_WALLET_MISMATCH,
    );
    const good = revocation(alice.walletKey, { kind: "grant", grant: alice.grantId });
    const other = revocation(alice.walletKey, { kind: "all", issuedBefore: T0 });
    expectRefusal(
      await post(url, "/v1/revocations", { text: good.text, signature: other.signature }),
      401,
      ErrorCode.BAD_SIGNATURE,
    );
    expectRefusal(
      await post(url, "/v1/revocations", {
        text: good.text.replace("Network: sesame-test", "Network: elsewhere"),
        signature: good.signature,
      }),
      403,
      ErrorCode.GRANT_NETWORK_MISMATCH,
    );
    expectRefusal(
      await post(url, "/v1/revocations", { text: "Revoke nothing", signature: good.signature }),
      400,
      ErrorCode.REVOCATION_MALFORMED,
    );
    await accept(url, alice.sign("post", postBody("still live")));
  });

  it("with compromisedSince hides what was received from then on and rebuilds follows, reactions, profile", async () => {
    const { url, clock } = await freshNode(engine);
    const alice = await session(url, "alice");
    const bob = await session(url, "bob");
    const carol = await session(url, "carol");
    const t1 = clock.now();
    const bobPost = await accept(url, bob.sign("post", postBody("bob's post"), { ts: t1 }));
    const kept = await accept(url, alice.sign("post", postBody("genuine"), { ts: t1 }));
    await accept(url, alice.sign("follow", followBody(bob.wallet), { ts: t1 }));
    await accept(url, alice.sign("react", reactBody(bobPost.id, "like"), { ts: t1 }));
    await accept(url, alice.sign("profile", profileBody("Alice"), { ts: t1 }));
    const genuineReply = await accept(
      url,
      alice.sign("reply", replyBody(bobPost.id, "genuine reply"), { ts: t1 }),
    );

    // The key is stolen: from T on, everything alice's session sends is the thief's.
    clock.advance(60_000);
    const T = clock.now();
    const stolen = await accept(url, alice.sign("post", postBody("scam link"), { ts: T }));
    const stolenReply = await accept(
      url,
      alice.sign("reply", replyBody(bobPost.id, "scam reply"), { ts: T }),
    );
    await accept(
      url,
      alice.sign("reply", replyBody(stolenReply.id, "reply to the scam reply"), { ts: T }),
    );
    await accept(url, alice.sign("unfollow", followBody(bob.wallet), { ts: T }));
    await accept(url, alice.sign("follow", followBody(carol.wallet), { ts: T }));
    await accept(url, alice.sign("unreact", reactBody(bobPost.id, "like"), { ts: T }));
    await accept(url, alice.sign("react", reactBody(bobPost.id, "fire"), { ts: T }));
    await accept(url, alice.sign("profile", profileBody("Mallory"), { ts: T }));
    // Bob, whose key is fine, keeps acting after T.
    const bobLater = await accept(url, bob.sign("post", postBody("bob later"), { ts: T }));

    const before = await get<ServedProfile>(url, `/v1/wallets/${alice.wallet}/profile`);
    expect(before.body).toMatchObject({ displayName: "Mallory", posts: 2, following: 1 });

    clock.advance(60_000);
    const rev = revocation(
      alice.walletKey,
      { kind: "grant", grant: alice.grantId },
      { compromisedSince: T },
    );
    const reply = await post(url, "/v1/revocations", rev);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ revoked: [alice.grantId] });

    const feed = await get<Page>(url, "/v1/feed");
    expect(feed.body.items.map((p) => p.id)).toEqual([bobLater.id, kept.id, bobPost.id]);
    expectRefusal(await get(url, `/v1/posts/${stolen.id}`), 404, ErrorCode.NOT_FOUND);
    expectRefusal(await get(url, `/v1/posts/${stolenReply.id}`), 404, ErrorCode.NOT_FOUND);
    const thread = await get<{ root: ServedPost; replies: Page }>(
      url,
      `/v1/posts/${bobPost.id}/thread`,
    );
    expect(thread.body.root).toMatchObject({ id: bobPost.id, replies: 1, reactions: { like: 1 } });
    expect(thread.body.replies.items.map((r) => r.id)).toEqual([genuineReply.id]);
    const walletPosts = await get<Page>(url, `/v1/wallets/${alice.wallet}/posts`);
    expect(walletPosts.body.items.map((p) => p.id)).toEqual([kept.id]);

    expect((await get(url, `/v1/wallets/${alice.wallet}/profile`)).body).toEqual({
      wallet: alice.wallet,
      displayName: "Alice",
      bio: "",
      avatarUrl: "",
      updatedBy: expect.any(String),
      posts: 1,
      followers: 0,
      following: 1,
      action: expect.objectContaining({ kind: "profile" }),
    });
    expect((await get(url, `/v1/wallets/${bob.wallet}/profile`)).body).toMatchObject({
      followers: 1,
      posts: 2,
    });
    expect((await get(url, `/v1/wallets/${carol.wallet}/profile`)).body).toMatchObject({
      followers: 0,
    });
    const following = await get<Page>(url, `/v1/wallets/${alice.wallet}/following-feed`);
    expect(following.body.items.map((p) => p.id)).toEqual([bobLater.id, bobPost.id]);
    const reactions = await get<Reactions>(url, `/v1/posts/${bobPost.id}/reactions`);
    expect(reactions.body.counts).toEqual({ like: 1 });
    expect(reactions.body.items).toMatchObject([{ wallet: alice.wallet, reaction: "like" }]);

    const sessions = await get<Sessions>(url, `/v1/wallets/${alice.wallet}/sessions`);
    expect(sessions.body.items[0]).toMatchObject({
      status: "revoked",
      compromisedSince: T,
      revokedBy: "revocation",
    });
    expectRefusal(
      await post(url, "/v1/actions", alice.sign("post", postBody("too late"), { ts: clock.now() })),
      403,
      ErrorCode.SESSION_REVOKED,
    );
    // The log a stream replays no longer holds the hidden actions either.
    const sentinel = await accept(url, bob.sign("post", postBody("sentinel"), { ts: clock.now() }));
    const stream = await openStream(url, { query: "?after=0" });
    const events = await stream.until((e) => (e.data as { id?: string }).id === sentinel.id);
    const streamed = events
      .filter((e) => e.event === "action")
      .map((e) => (e.data as { id: string }).id);
    expect(streamed).toContain(kept.id);
    expect(streamed).toContain(genuineReply.id);
    expect(streamed).not.toContain(stolen.id);
    expect(streamed).not.toContain(stolenReply.id);
    expect(streamed).toHaveLength(8); // bob 3, alice 5 from before T
  });
});
