import { grantIdOfText, type SignedAction } from "@sesame/protocol";
import { describe, expect, it } from "vitest";
import { makeGrant } from "../../protocol/scripts/fixtures.js";
import {
  type AcceptedItem,
  accept,
  ENGINES,
  ErrorCode,
  expectItemRefusal,
  expectRefusal,
  freshNode,
  get,
  NOW,
  openStream,
  post,
  postBody,
  session,
  TestSession,
} from "./helpers.js";

interface Sessions {
  items: {
    grant: string;
    status: string;
    revokedBy: string | null;
    used: Record<string, number>;
  }[];
}

describe.each(ENGINES)("POST /v1/actions on %s", (engine) => {
  it("stores one action: 201, and the same action again is 200 with the same answer", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const action = alice.sign("post", postBody("hello"));
    const first = await post<AcceptedItem>(url, "/v1/actions", action);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      ok: true,
      id: expect.any(String),
      logId: expect.any(Number),
      duplicate: false,
    });
    const again = await post(url, "/v1/actions", action);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, duplicate: true });

    const served = await get<{ payload: unknown; signature: string }>(
      url,
      `/v1/posts/${first.body.id}`,
    );
    expect(served.body).toMatchObject({ payload: action.payload, signature: action.signature });
    const feed = await get<{ items: unknown[] }>(url, "/v1/feed");
    expect(feed.body.items).toHaveLength(1);
  });

  it("refuses an action with its code: unknown grant, bad signature, scope, window", async () => {
    const { url } = await freshNode(engine);
    const poster = await session(url, "alice", "alice-posts", {
      scopes: ["post"],
      limits: { post: { total: 10, perHour: null } },
      tipBudget: null,
    });
    const zed = makeGrant("zed", "zed-s1");
    const unregistered = new TestSession(zed, grantIdOfText(zed.text));
    expectRefusal(
      await post(url, "/v1/actions", unregistered.sign("post", postBody("x"))),
      404,
      ErrorCode.GRANT_UNKNOWN,
    );
    const forged: SignedAction = {
      ...poster.sign("post", postBody("mine")),
      signature: poster.sign("post", postBody("other")).signature,
    };
    expectRefusal(await post(url, "/v1/actions", forged), 401, ErrorCode.BAD_SIGNATURE);
    expectRefusal(
      await post(url, "/v1/actions", poster.sign("follow", { target: poster.wallet })),
      403,
      ErrorCode.SCOPE_NOT_GRANTED,
    );
    expectRefusal(
      await post(
        url,
        "/v1/actions",
        poster.sign("post", postBody("late"), { ts: NOW + 3_600_000 }),
      ),
      400,
      ErrorCode.TIMESTAMP_IN_FUTURE,
    );
    expectRefusal(
      await post(url, "/v1/actions", { payload: { v: 1, kind: "post" }, signature: "x" }),
      400,
      ErrorCode.INVALID_FIELD,
    );
    const feed = await get<{ items: unknown[] }>(url, "/v1/feed");
    expect(feed.body.items).toEqual([]);
  });

  it("answers a batch with one result per item, in order", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const a1 = alice.sign("post", postBody("one"));
    const a2 = alice.sign("post", postBody("two"));
    const forged: SignedAction = {
      ...alice.sign("post", postBody("three")),
      signature: a1.signature,
    };
    const zed = makeGrant("zed", "zed-s1");
    const unknown = new TestSession(zed, grantIdOfText(zed.text)).sign("post", postBody("?"));
    const a5 = alice.sign("post", postBody("five"));
    const reply = await post<{ results: unknown[] }>(url, "/v1/actions", {
      actions: [a1, a2, forged, a1, unknown, a5],
    });
    expect(reply.status).toBe(200);
    expect(reply.body.results).toHaveLength(6);
    const [r1, r2, r3, r4, r5, r6] = reply.body.results as AcceptedItem[];
    expect(r1).toEqual({
      ok: true,
      id: expect.any(String),
      logId: expect.any(Number),
      duplicate: false,
    });
    expect(r2).toMatchObject({ ok: true, duplicate: false });
    expect(r2?.logId).toBeGreaterThan(r1?.logId ?? Number.POSITIVE_INFINITY);
    expectItemRefusal(r3, ErrorCode.BAD_SIGNATURE);
    expect(r4).toEqual({ ...r1, duplicate: true });
    expectItemRefusal(r5, ErrorCode.GRANT_UNKNOWN);
    expect(r6).toMatchObject({ ok: true, duplicate: false });
    const posts = await get<{ items: { id: string }[] }>(url, `/v1/wallets/${alice.wallet}/posts`);
    expect(posts.body.items.map((p) => p.id)).toEqual([r6?.id, r2?.id, r1?.id]);
  });

  it("takes a batch of 100 and refuses 101 whole with 6006", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice", "alice-bulk", {
      scopes: ["post"],
      limits: { post: { total: null, perHour: null } },
      tipBudget: null,
    });
    const hundred = Array.from({ length: 100 }, (_, i) => alice.sign("post", postBody(`p${i}`)));
    const ok = await post<{ results: AcceptedItem[] }>(url, "/v1/actions", { actions: hundred });
    expect(ok.status).toBe(200);
    expect(ok.body.results.filter((r) => r.ok && !r.duplicate)).toHaveLength(100);

    const more = Array.from({ length: 101 }, (_, i) => alice.sign("post", postBody(`q${i}`)));
    const refused = await post(url, "/v1/actions", { actions: more });
    expectRefusal(refused, 400, ErrorCode.BATCH_TOO_LARGE);
    expect(refused.body).toMatchObject({ context: { max: 100, actual: 101 } });
    const sessions = await get<Sessions>(url, `/v1/wallets/${alice.wallet}/sessions`);
    expect(sessions.body.items[0]?.used).toEqual({ post: 100 });
  });

  it("detects equivocation on ingest: 409 4006, revokes the session, streams the proof", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const first = await accept(url, alice.sign("post", postBody("original"), { seq: 1, ord: 1 }));
    const clash = alice.sign("post", postBody("rewritten"), { seq: 1, ord: 1 });
    const refused = await post(url, "/v1/actions", clash);
    expectRefusal(refused, 409, ErrorCode.EQUIVOCATION);
    expect(refused.body).toMatchObject({ context: { existing: first.id, by: "sequence" } });

    const sessions = await get<Sessions>(url, `/v1/wallets/${alice.wallet}/sessions`);
    expect(sessions.body.items[0]).toMatchObject({ status: "revoked", revokedBy: "equivocation" });
    expectRefusal(
      await post(url, "/v1/actions", alice.sign("post", postBody("after"))),
      403,
      ErrorCode.SESSION_REVOKED,
    );

    const stream = await openStream(url, { query: "?after=0" });
    const events = await stream.until((e) => e.event === "equivocation");
    expect(events.map((e) => e.event)).toEqual(["grant", "action", "equivocation"]);
    expect(events[2]?.data).toMatchObject({
      grant: alice.grantId,
      by: "sequence",
    });
    const proof = events[2]?.data as { a: SignedAction; b: SignedAction };
    expect([proof.a.signature, proof.b.signature].sort()).toEqual(
      [
        alice.sign("post", postBody("original"), { seq: 1, ord: 1 }).signature,
        clash.signature,
      ].sort(),
    );
  });
});

describe.each(ENGINES)("equivocation by ordinal, and inside one batch, on %s", (engine) => {
  it("refuses a reused ordinal with 4006 by ordinal", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const first = await accept(url, alice.sign("post", postBody("first"), { seq: 1, ord: 1 }));
    const reply = await post(
      url,
      "/v1/actions",
      alice.sign("post", postBody("again"), { seq: 2, ord: 1 }),
    );
    expectRefusal(reply, 409, ErrorCode.EQUIVOCATION);
    expect(reply.body).toMatchObject({ context: { existing: first.id, by: "ordinal" } });
    const sessions = await get<Sessions>(url, `/v1/wallets/${alice.wallet}/sessions`);
    expect(sessions.body.items[0]).toMatchObject({ status: "revoked", revokedBy: "equivocation" });
  });

  it("catches two versions of one sequence number sent in the same batch", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const a = alice.sign("post", postBody("version a"), { seq: 1, ord: 1 });
    const b = alice.sign("post", postBody("version b"), { seq: 1, ord: 1 });
    const reply = await post<{ results: unknown[] }>(url, "/v1/actions", { actions: [a, b] });
    expect(reply.status).toBe(200);
    const [ra, rb] = reply.body.results as [AcceptedItem, unknown];
    expect(ra).toMatchObject({ ok: true, duplicate: false });
    expectItemRefusal(rb, ErrorCode.EQUIVOCATION);
    const stream = await openStream(url, { query: "?after=0" });
    const events = await stream.until((e) => e.event === "equivocation");
    const proof = events.at(-1)?.data as { a: SignedAction; b: SignedAction };
    expect([proof.a.signature, proof.b.signature].sort()).toEqual(
      [a.signature, b.signature].sort(),
    );
    expectRefusal(
      await post(url, "/v1/actions", alice.sign("post", postBody("after"))),
      403,
      ErrorCode.SESSION_REVOKED,
    );
  });
});

describe.each(ENGINES)("POST /v1/equivocations on %s", (engine) => {
  it("revokes the session for a valid proof, once", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const a = alice.sign("post", postBody("left"), { seq: 7, ord: 7 });
    const b = alice.sign("post", postBody("right"), { seq: 7, ord: 7 });
    const reply = await post(url, "/v1/equivocations", { a, b });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      id: expect.any(String),
      grant: alice.grantId,
      by: "sequence",
      duplicate: false,
    });
    const again = await post(url, "/v1/equivocations", { a: b, b: a });
    expect(again.body).toEqual({ ...(reply.body as object), duplicate: true });
    const sessions = await get<Sessions>(url, `/v1/wallets/${alice.wallet}/sessions`);
    expect(sessions.body.items[0]).toMatchObject({ status: "revoked", revokedBy: "equivocation" });
    expectRefusal(
      await post(url, "/v1/actions", alice.sign("post", postBody("after"))),
      403,
      ErrorCode.SESSION_REVOKED,
    );
  });

  it("refuses invalid proofs with 5003 and leaves the session live", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const bob = await session(url, "bob");
    const a = alice.sign("post", postBody("one"), { seq: 1, ord: 1 });
    const noClash = alice.sign("post", postBody("two"), { seq: 2, ord: 2 });
    const forged: SignedAction = {
      ...alice.sign("post", postBody("three"), { seq: 1, ord: 1 }),
      signature: a.signature,
    };
    const bobs = bob.sign("post", postBody("bob"), { seq: 1, ord: 1 });
    for (const proof of [
      { a, b: a },
      { a, b: noClash },
      { a, b: forged },
      { a, b: bobs },
    ]) {
      expectRefusal(
        await post(url, "/v1/equivocations", proof),
        400,
        ErrorCode.EQUIVOCATION_PROOF_INVALID,
      );
    }
    const zed = makeGrant("zed", "zed-s1");
    const unknown = new TestSession(zed, grantIdOfText(zed.text));
    expectRefusal(
      await post(url, "/v1/equivocations", {
        a: unknown.sign("post", postBody("x"), { seq: 1 }),
        b: unknown.sign("post", postBody("y"), { seq: 1 }),
      }),
      400,
      ErrorCode.EQUIVOCATION_PROOF_INVALID,
    );
    await accept(url, alice.sign("post", postBody("still live")));
  });
});
