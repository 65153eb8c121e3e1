/**
 * The live stream under load, over real HTTP on both engines: a resume from the start of
 * a long log pages through the database in bounded batches; a reader that stops reading
 * is disconnected and resumes by Last-Event-ID without a gap; the per-process subscriber
 * cap; and a "compromised since T" revocation tells live readers which actions to hide.
 */
import http from "node:http";
import { describe, expect, it, vi } from "vitest";
import {
  type AcceptedItem,
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  freshNode,
  get,
  openStream,
  post,
  postBody,
  request,
  revocation,
  type SseEvent,
  session,
  type TestSession,
} from "./helpers.js";

const POSTS = 3000;
const PAGE = 100;

/** Stores `n` posts of `session` in batches of 100; their ids, in log order. */
async function storePosts(url: string, s: TestSession, n: number, text: string) {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 100) {
    const actions = Array.from({ length: Math.min(100, n - i) }, (_, k) =>
      s.sign("post", postBody(`${text} #${i + k}`)),
    );
    const reply = await post<{ results: AcceptedItem[] }>(url, "/v1/actions", { actions });
    expect(reply.status).toBe(200);
    for (const r of reply.body.results) {
      expect(r).toMatchObject({ ok: true, duplicate: false });
      ids.push(r.id);
    }
  }
  return ids;
}

const unlimited = {
  scopes: ["post"],
  limits: { post: { total: null, perHour: null } },
  tipBudget: null,
};

/** Bytes of one event as the node writes it. */
const eventBytes = (e: SseEvent) =>
  Buffer.byteLength(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);

/** Parses complete SSE blocks; an incomplete tail (cut connection) is left out. */
function parseSse(text: string): { events: SseEvent[]; retry: number | undefined } {
  const events: SseEvent[] = [];
  let retry: number | undefined;
  const blocks = text.split("\n\n");
  blocks.pop(); // after the last "\n\n": incomplete, or empty
  for (const block of blocks) {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      if (line.startsWith(":") || line === "") continue;
      const colon = line.indexOf(":");
      fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
    }
    if (fields.has("retry")) retry = Number(fields.get("retry"));
    if (!fields.has("data")) continue;
    events.push({
      id: Number(fields.get("id")),
      event: fields.get("event") ?? "message",
      data: JSON.parse(fields.get("data") as string),
    });
  }
  return { events, retry };
}

describe.each(ENGINES)("GET /v1/stream under load on %s", (engine) => {
  it(`resumes from 0 over ${POSTS} posts: all in order, read from storage ${PAGE} at a time`, async () => {
    const node = await freshNode(engine, { config: { streamPageSize: PAGE } });
    const alice = await session(node.url, "alice", "alice-s1", unlimited);
    const ids = await storePosts(node.url, alice, POSTS, "backlog");

    const stream = await openStream(node.url, { lastEventId: 0 });
    const events = await stream.take(POSTS + 1);
    expect(events[0]?.event).toBe("grant");
    expect(events.slice(1).map((e) => (e.data as { id: string }).id)).toEqual(ids);
    const logIds = events.map((e) => e.id);
    expect(logIds).toEqual([...logIds].sort((a, b) => a - b));
    expect(new Set(logIds).size).toBe(logIds.length);

    // Bounded work per reader: no read of storage took more than one page, and what waited
    // in the connection's buffer never exceeded its high-water mark plus one page.
    const stats = node.node.ctx.stream.stats;
    expect(stats.largestPage).toBeLessThanOrEqual(PAGE);
    expect(stats.pagesRead).toBeGreaterThanOrEqual(Math.ceil((POSTS + 1) / PAGE));
    const largestEvent = Math.max(...events.map(eventBytes));
    expect(stats.largestBuffer).toBeLessThanOrEqual(64 * 1024 + PAGE * largestEvent);

    // Caught up, it is live again: a new post arrives next.
    const live = await accept(node.url, alice.sign("post", postBody("live")));
    expect((await stream.take(1))[0]).toMatchObject({ id: live.logId, event: "action" });
  }, 120_000);

  it("drops a reader that stops reading, which then resumes by Last-Event-ID without a gap", async () => {
    const node = await freshNode(engine, {
      config: { streamPageSize: PAGE, streamStallMs: 500 },
    });
    const alice = await session(node.url, "alice", "alice-s1", unlimited);
    // ~1 KB per event, ~3 MB in all: more than the socket buffers hold for a reader that
    // does not read.
    const ids = await storePosts(node.url, alice, POSTS, "x".repeat(900));

    const { port } = new URL(node.url);
    const chunks: Buffer[] = [];
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get(
          { host: "127.0.0.1", port, path: "/v1/stream", headers: { "last-event-id": "0" } },
          resolve,
        )
        .on("error", reject);
    });
    response.pause(); // a reader that stalls
    expect(response.statusCode).toBe(200);
    await vi.waitFor(() => expect(node.node.ctx.stream.stats.dropped).toBe(1), {
      timeout: 30_000,
      interval: 50,
    });
    expect(node.node.ctx.stream.subscriberCount).toBe(0);
    const metrics = await get<string>(node.url, "/metrics");
    expect(metrics.text).toMatch(/^sesame_stream_readers_dropped 1$/m);

    // It reads again: what the connection still held, then the end.
    const ended = new Promise<void>((resolve) => {
      response.on("data", (c: Buffer) => chunks.push(c));
      response.on("end", resolve);
      response.on("close", resolve);
      response.on("error", () => resolve());
    });
    response.resume();
    await ended;
    const first = parseSse(Buffer.concat(chunks).toString("utf8"));
    expect(first.retry).toBeGreaterThan(0); // how long to wait before reconnecting
    expect(first.events.length).toBeGreaterThan(0);
    expect(first.events.length).toBeLessThan(POSTS + 1); // cut before the end
    const lastSeen = first.events[first.events.length - 1]?.id as number;

    const resumed = await openStream(node.url, { lastEventId: lastSeen });
    const rest = await resumed.take(POSTS + 1 - first.events.length);
    const all = [...first.events, ...rest];
    expect(all[0]?.event).toBe("grant");
    expect(all.slice(1).map((e) => (e.data as { id: string }).id)).toEqual(ids);
    // While it stalled, the node stopped reading for it: its buffer never held more than
    // the high-water mark plus one page.
    const largestEvent = Math.max(...all.map(eventBytes));
    expect(node.node.ctx.stream.stats.largestBuffer).toBeLessThanOrEqual(
      64 * 1024 + PAGE * largestEvent,
    );
  }, 120_000);

  it("caps open subscribers per process with 503 6008", async () => {
    const node = await freshNode(engine, { config: { streamMaxSubscribers: 2 } });
    const a = await openStream(node.url);
    await openStream(node.url);
    expectRefusal(await get(node.url, "/v1/stream"), 503, ErrorCode.UNAVAILABLE);
    // HEAD answers the headers and ends; it takes no subscriber slot.
    const head = await request(node.url, "HEAD", "/v1/stream");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(node.node.ctx.stream.subscriberCount).toBe(2);
    await a.close();
    await vi.waitFor(() => expect(node.node.ctx.stream.subscriberCount).toBe(1));
    const again = await openStream(node.url);
    const alice = await session(node.url, "alice");
    expect((await again.take(1))[0]).toMatchObject({ event: "grant", data: { id: alice.grantId } });
  });

  it("tells live readers which actions a compromised-since revocation hides", async () => {
    const { url, clock } = await freshNode(engine);
    const alice = await session(url, "alice");
    const bob = await session(url, "bob");
    const stream = await openStream(url);
    const kept = await accept(url, alice.sign("post", postBody("genuine")));
    clock.advance(60_000);
    const T = clock.now();
    const stolen = [
      await accept(url, alice.sign("post", postBody("scam 1"), { ts: T })),
      await accept(
        url,
        alice.sign("react", { target: kept.id as never, reaction: "like" }, { ts: T }),
      ),
      await accept(url, alice.sign("post", postBody("scam 2"), { ts: T })),
    ];
    const bobs = await accept(url, bob.sign("post", postBody("bob, after T"), { ts: T }));
    // The reader has them all.
    // (bob's grant may come first: a grant reaches the hub through NOTIFY, later than this.)
    const seen = (await stream.until((e) => (e.data as { id?: string }).id === bobs.id)).filter(
      (e) => e.event === "action",
    );
    expect(seen.map((e) => (e.data as { id: string }).id)).toEqual([
      kept.id,
      ...stolen.map((s) => s.id),
      bobs.id,
    ]);

    clock.advance(60_000);
    const rev = revocation(
      alice.walletKey,
      { kind: "grant", grant: alice.grantId },
      { compromisedSince: T, issuedAt: clock.now() },
    );
    expect((await post(url, "/v1/revocations", rev)).status).toBe(200);
    const [event] = await stream.take(1);
    expect(event).toMatchObject({
      event: "revocation",
      data: { wallet: alice.wallet, hidden: stolen.map((s) => s.id) },
    });
    // A reader resuming from before the revocation gets the same instruction.
    const late = await openStream(url, { lastEventId: (event?.id as number) - 1 });
    expect((await late.take(1))[0]).toEqual(event);
    // A plain revocation hides nothing.
    const plain = await post(
      url,
      "/v1/revocations",
      revocation(bob.walletKey, { kind: "grant", grant: bob.grantId }),
    );
    expect(plain.status).toBe(200);
    expect((await stream.take(1))[0]).toMatchObject({ event: "revocation", data: { hidden: [] } });
  });
});
