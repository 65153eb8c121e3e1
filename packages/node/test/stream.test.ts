import { describe, expect, it, vi } from "vitest";
import {
  accept,
  ENGINES,
  ErrorCode,
  freshNode,
  openStream,
  post,
  postBody,
  revocation,
  type SseEvent,
  session,
} from "./helpers.js";

const actionIds = (events: readonly SseEvent[]) => events.map((e) => (e.data as { id: string }).id);

describe.each(ENGINES)("GET /v1/stream on %s", (engine) => {
  it("pushes what is accepted after connecting, live, each event id its log id", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    await accept(url, alice.sign("post", postBody("before connecting")));
    const stream = await openStream(url);

    const accepted = [];
    for (const text of ["one", "two", "three"]) {
      accepted.push(await accept(url, alice.sign("post", postBody(text))));
    }
    const events = await stream.take(3);
    expect(events.map((e) => e.event)).toEqual(["action", "action", "action"]);
    expect(events.map((e) => e.id)).toEqual(accepted.map((a) => a.logId));
    expect(events[0]?.data).toMatchObject({
      id: accepted[0]?.id,
      kind: "post",
      wallet: alice.wallet,
      grant: alice.grantId,
      payload: { kind: "post", seq: 2, body: { text: "one" } },
      signature: expect.any(String),
    });

    // Grants and revocations travel on the same stream.
    const bob = await session(url, "bob");
    await post(
      url,
      "/v1/revocations",
      revocation(bob.walletKey, { kind: "grant", grant: bob.grantId }),
    );
    const more = await stream.take(2);
    expect(more.map((e) => e.event)).toEqual(["grant", "revocation"]);
    expect(more[0]?.data).toMatchObject({ id: bob.grantId, wallet: bob.wallet });
    expect(more[1]?.data).toMatchObject({ wallet: bob.wallet });
  });

  it("resumes exactly after Last-Event-ID: nothing lost, nothing repeated", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const first = [];
    for (let i = 0; i < 5; i++)
      first.push(await accept(url, alice.sign("post", postBody(`a${i}`))));

    const replay = await openStream(url, { query: "?after=0" });
    const seen = await replay.take(6); // the grant, then five posts
    expect(seen.map((e) => e.event)).toEqual(["grant", ...Array(5).fill("action")]);
    expect(actionIds(seen.slice(1))).toEqual(first.map((a) => a.id));
    await replay.close();

    // Disconnected after the third post; two more were sent meanwhile.
    const lastSeen = seen[3]?.id as number;
    const missed = [];
    for (let i = 0; i < 2; i++)
      missed.push(await accept(url, alice.sign("post", postBody(`b${i}`))));

    // Last-Event-ID wins over ?after.
    const resumed = await openStream(url, { lastEventId: lastSeen, query: "?after=0" });
    const live = await accept(url, alice.sign("post", postBody("live")));
    const got = await resumed.until((e) => (e.data as { id?: string }).id === live.id);
    expect(actionIds(got)).toEqual([
      first[3]?.id,
      first[4]?.id,
      missed[0]?.id,
      missed[1]?.id,
      live.id,
    ]);
    expect(got.map((e) => e.id)).toEqual(
      [first[3], first[4], missed[0], missed[1], live].map((a) => a?.logId),
    );
    const sentinel = await accept(url, alice.sign("post", postBody("sentinel")));
    expect(actionIds(await resumed.take(1))).toEqual([sentinel.id]);
  });

  it("refuses a Last-Event-ID that is not 1 to 16 decimal digits with 1002, before subscribing", async () => {
    const { url, node } = await freshNode(engine);
    for (const bad of ["abc", "-1", "1.5", "1e3", "0x10", "12345678901234567", "7,8"]) {
      const res = await fetch(`${url}/v1/stream?after=0`, {
        headers: { accept: "text/event-stream", "last-event-id": bad },
      });
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({
        code: ErrorCode.INVALID_FIELD,
        context: { field: "headers.last-event-id" },
      });
    }
    expect(node.ctx.stream.subscriberCount).toBe(0);
  });

  it("an empty Last-Event-ID counts as absent: ?after applies, or the stream starts live", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const old = await accept(url, alice.sign("post", postBody("old")));

    const replay = await openStream(url, { lastEventId: "", query: "?after=0" });
    const seen = await replay.take(2);
    expect(seen.map((e) => e.event)).toEqual(["grant", "action"]);
    expect(actionIds(seen.slice(1))).toEqual([old.id]);

    const live = await openStream(url, { lastEventId: "" });
    const fresh = await accept(url, alice.sign("post", postBody("fresh")));
    expect(actionIds(await live.take(1))).toEqual([fresh.id]);
  });

  it("a Last-Event-ID beyond the newest log id resumes from the newest: no hang, no replay", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice");
    const last = await accept(url, alice.sign("post", postBody("last before")));

    for (const future of [last.logId + 1000, "9999999999999999"]) {
      const stream = await openStream(url, { lastEventId: future });
      const next = await accept(url, alice.sign("post", postBody(`after ${future}`)));
      const [event] = await stream.take(1);
      // The first event is the next one written: nothing older replayed, none skipped.
      expect(event?.id).toBe(next.logId);
      expect(actionIds(event === undefined ? [] : [event])).toEqual([next.id]);
      await stream.close();
    }
    // ?after= beyond the head is clamped the same way.
    const byQuery = await openStream(url, { query: `?after=${last.logId + 500}` });
    const again = await accept(url, alice.sign("post", postBody("by query")));
    expect(actionIds(await byQuery.take(1))).toEqual([again.id]);
  });

  it("closing the node ends the streams still open", async () => {
    const node = await freshNode(engine);
    const alice = await session(node.url, "alice");
    const stream = await openStream(node.url);
    await accept(node.url, alice.sign("post", postBody("hello")));
    expect(await stream.take(1)).toHaveLength(1);
    expect(node.node.ctx.stream.subscriberCount).toBe(1);
    await node.close();
    await stream.ended;
  });
});

describe("GET /v1/stream on a PostgreSQL database shared with other schemas", () => {
  it("hears only its own schema's commits", async () => {
    const other = await freshNode("postgres");
    const mine = await freshNode("postgres");
    // The other schema's log runs ahead of this one.
    const stranger = await session(other.url, "stranger");
    for (let i = 0; i < 10; i++) await accept(other.url, stranger.sign("post", postBody(`x${i}`)));
    const alice = await session(mine.url, "alice");
    const grantLogId = 1; // the first entry of a fresh log
    // Notifications reach a listener in commit order: once this node has heard of its own
    // grant, it has heard everything the other schema committed before it, if anything.
    await vi.waitFor(
      async () => expect(await mine.node.ctx.stream.latest()).toBeGreaterThanOrEqual(grantLogId),
      { timeout: 20_000, interval: 20 },
    );
    expect(await mine.node.ctx.stream.latest()).toBe(grantLogId);

    const stream = await openStream(mine.url);
    const posted = await accept(mine.url, alice.sign("post", postBody("mine")));
    expect((await stream.take(1))[0]).toMatchObject({ id: posted.logId, event: "action" });
  });
});
