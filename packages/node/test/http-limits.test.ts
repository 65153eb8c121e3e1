/**
 * The node's transport limits over real HTTP on both engines: the handler deadline and
 * what a timed-out write means, body shapes checked before any storage work, query
 * parameters named in refusals, and the per-IP rate limit with its exempt routes.
 */
import http from "node:http";
import net from "node:net";
import { grantIdOfText } from "@sesame/protocol";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { makeGrant } from "../../protocol/scripts/fixtures.js";
import type { ServedSession } from "../src/index.js";
import {
  type AcceptedItem,
  ENGINES,
  ErrorCode,
  expectItemRefusal,
  expectRefusal,
  freshNode,
  get,
  post,
  postBody,
  request,
  revocation,
  session,
  type TestNode,
  TestSession,
} from "./helpers.js";

/**
 * Holds a transaction open on the node's own storage until `release()`: on PostgreSQL a
 * separate pooled connection holding `statements`' locks; on PGlite, whose one connection
 * runs one transaction at a time, any transaction blocks every other query.
 */
async function holdLocks(
  node: TestNode,
  statements: readonly ReturnType<typeof sql>[],
): Promise<{ release(): Promise<void> }> {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked = () => {};
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const done = node.node.ctx.storage.db.transaction().execute(async (tx) => {
    for (const s of statements) await s.execute(tx);
    locked();
    await released;
  });
  await Promise.race([isLocked, done]);
  return {
    async release() {
      release();
      await done;
    },
  };
}

describe.each(ENGINES)("handler deadline on %s", (engine) => {
  it("a write blocked past the deadline answers 6009 (outcome unknown), a queued one 6004 (not stored); resending settles both", async () => {
    const node = await freshNode(engine, { config: { requestTimeoutMs: 2000 } });
    const { url } = node;
    const alice = await session(url, "alice", "alice-s1", {
      scopes: ["post"],
      limits: { post: { total: 10, perHour: null } },
      tipBudget: null,
    });
    const bob = await session(url, "bob");
    const first = alice.sign("post", postBody("blocked in its commit"));
    const second = alice.sign("post", postBody("queued behind it"));

    // Another connection holds alice's session row: the group commit that takes `first`
    // waits for it past the deadline.
    const held = await holdLocks(node, [
      sql`SELECT state FROM sessions WHERE grant_id IN (${alice.grantId}, ${bob.grantId}) ORDER BY grant_id FOR UPDATE`,
    ]);
    let released = false;
    try {
      const unknown = await post(url, "/v1/actions", first);
      expectRefusal(unknown, 504, ErrorCode.WRITE_OUTCOME_UNKNOWN);
      expect(unknown.body).toMatchObject({ context: { timeoutMs: 2000 } });
      // The commit still waits: the next action queues behind it and is withdrawn at its
      // deadline, certainly not stored.
      const notStored = await post(url, "/v1/actions", second);
      expectRefusal(notStored, 408, ErrorCode.REQUEST_TIMEOUT);
      // A wallet-signed revocation of bob's (locked) session: outcome unknown too.
      const revoke = revocation(bob.walletKey, { kind: "grant", grant: bob.grantId });
      expectRefusal(
        await post(url, "/v1/revocations", revoke),
        504,
        ErrorCode.WRITE_OUTCOME_UNKNOWN,
      );
      if (engine === "pglite") {
        // One connection: reads wait for the held transaction as well, and change nothing.
        expectRefusal(await get(url, "/v1/feed"), 408, ErrorCode.REQUEST_TIMEOUT);
      } else {
        // Other pooled connections: reads go on while the rows are locked.
        expect((await get(url, "/v1/feed")).status).toBe(200);
      }
      released = true;
      await held.release();
      // The timed-out revocation committed once the lock was free: resending says so.
      const again = await post<{ duplicate: boolean }>(url, "/v1/revocations", revoke);
      expect(again.status, again.text).toBe(200);
      expect(again.body.duplicate).toBe(true);
    } finally {
      if (!released) await held.release();
    }

    // The commit that held `first` went through after the lock was released: resending
    // the same signed action is safe and tells the outcome (stored once: 200 duplicate).
    const resent = await post<AcceptedItem>(url, "/v1/actions", first);
    expect(resent.status, resent.text).toBe(200);
    expect(resent.body).toMatchObject({ ok: true, duplicate: true });
    // `second` never reached storage: sent again it is stored now, for the first time.
    const secondAgain = await post<AcceptedItem>(url, "/v1/actions", second);
    expect(secondAgain.status, secondAgain.text).toBe(201);
    const sessions = await get<{ items: ServedSession[] }>(
      url,
      `/v1/wallets/${alice.wallet}/sessions`,
    );
    expect(sessions.body.items[0]?.used).toEqual({ post: 2 });
    const feed = await get<{ items: { id: string }[] }>(url, `/v1/wallets/${alice.wallet}/posts`);
    expect(feed.body.items.map((p) => p.id)).toEqual([secondAgain.body.id, resent.body.id]);
  });
});

/** The value of an unlabelled counter in the node's /metrics. */
async function counter(url: string, name: string): Promise<number> {
  const text = (await request(url, "GET", "/metrics")).text;
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

describe.each(ENGINES)("read deadline on %s", (engine) => {
  it("a read past its deadline answers 6004 and sends none of its further statements", async () => {
    const node = await freshNode(engine, { config: { requestTimeoutMs: 1000 } });
    const { url } = node;
    const alice = await session(url, "alice");
    const name = "sesame_read_statements_skipped_total";
    expect(await counter(url, name)).toBe(0);
    // The profile read is two statements: the profile row, then the counts. The first
    // waits for the held lock past the deadline; once it is free, the first statement
    // (already sent) completes and the second is not sent.
    const held = await holdLocks(node, [sql`LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE`]);
    let released = false;
    try {
      const reply = await get(url, `/v1/wallets/${alice.wallet}/profile`);
      expectRefusal(reply, 408, ErrorCode.REQUEST_TIMEOUT);
      expect(reply.body).toMatchObject({ context: { timeoutMs: 1000 } });
      released = true;
      await held.release();
    } finally {
      if (!released) await held.release();
    }
    // The abandoned handler goes on in the background until its next statement: poll.
    for (let i = 0; i < 200 && (await counter(url, name)) === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await counter(url, name)).toBe(1);
    // Requests within their deadline run every statement as before.
    const fine = await get<{ posts: number }>(url, `/v1/wallets/${alice.wallet}/profile`);
    expect(fine.status).toBe(200);
    expect(fine.body.posts).toBe(0);
    expect(await counter(url, name)).toBe(1);
  });
});

describe("PostgreSQL's own lock timeout", () => {
  it("a write whose lock wait outlasts lock_timeout is rolled back and answered 6004; resent, it is stored", async () => {
    // The handler deadline is longer than PostgreSQL's lock_timeout (10 s) here.
    const node = await freshNode("postgres", { config: { requestTimeoutMs: 30_000 } });
    const alice = await session(node.url, "alice");
    const action = alice.sign("post", postBody("waits for a lock"));
    const held = await holdLocks(node, [
      sql`SELECT state FROM sessions WHERE grant_id = ${alice.grantId} FOR UPDATE`,
    ]);
    let reply: Awaited<ReturnType<typeof post>>;
    try {
      reply = await post(node.url, "/v1/actions", action);
    } finally {
      await held.release();
    }
    expectRefusal(reply, 408, ErrorCode.REQUEST_TIMEOUT);
    expect(reply.body).toMatchObject({ context: { timeoutMs: 10_000 } });
    const again = await post<AcceptedItem>(node.url, "/v1/actions", action);
    expect(again.status, again.text).toBe(201);
    expect(again.body.duplicate).toBe(false);
  }, 60_000);
});

/** Every write route, and bodies that are not what it takes. */
const WRITE_ROUTES = ["/v1/actions", "/v1/grants", "/v1/revocations", "/v1/equivocations"];

describe.each(ENGINES)("request shapes on %s", (engine) => {
  it("refuses bad write bodies with stable codes before any storage work", async () => {
    const node = await freshNode(engine, { config: { requestTimeoutMs: 2000 } });
    const { url } = node;
    const alice = await session(url, "alice");
    const good = alice.sign("post", postBody("well formed"));
    // Every table the write paths read is locked: a refusal that came from storage would
    // wait for the deadline and answer 6004/6009 instead of its own code.
    const held = await holdLocks(
      node,
      engine === "postgres"
        ? [sql`LOCK TABLE grants, sessions, actions, revocations IN ACCESS EXCLUSIVE MODE`]
        : [],
    );
    try {
      for (const path of WRITE_ROUTES) {
        const plain = await request(url, "POST", path, {
          raw: JSON.stringify(good),
          headers: { "content-type": "text/plain" },
        });
        expectRefusal(plain, 400, ErrorCode.MALFORMED_JSON);
        expectRefusal(
          await request(url, "POST", path, { raw: "{not json" }),
          400,
          ErrorCode.MALFORMED_JSON,
        );
      }
      for (const body of [[], "a string", 42, null, [good]]) {
        const reply = await post(url, "/v1/actions", body);
        expectRefusal(reply, 400, ErrorCode.INVALID_FIELD);
        expect(reply.body).toMatchObject({ context: { field: "body" } });
      }
      const empty = await post(url, "/v1/actions", { actions: [] });
      expectRefusal(empty, 400, ErrorCode.INVALID_FIELD);
      expect(empty.body).toMatchObject({ context: { field: "actions" } });
      expectRefusal(
        await post(url, "/v1/actions", { actions: "nope" }),
        400,
        ErrorCode.INVALID_FIELD,
      );
      const extra = await post(url, "/v1/actions", { actions: [good], also: 1 });
      expectRefusal(extra, 400, ErrorCode.UNKNOWN_FIELD);
      expect(extra.body).toMatchObject({ context: { field: "also" } });
      expectRefusal(
        await post(url, "/v1/actions", { actions: Array(101).fill(good) }),
        400,
        ErrorCode.BATCH_TOO_LARGE,
      );
      // One action of the wrong shape: the protocol decoder's precise code.
      expectRefusal(
        await post(url, "/v1/actions", {
          payload: { ...good.payload, grant: "0OIl" },
          signature: good.signature,
        }),
        400,
        ErrorCode.INVALID_BASE58,
      );
      expectRefusal(
        await post(url, "/v1/actions", { payload: good.payload }),
        400,
        ErrorCode.INVALID_FIELD,
      );
      expectRefusal(
        await post(url, "/v1/actions", { ...good, extra: true }),
        400,
        ErrorCode.UNKNOWN_FIELD,
      );
      // A proof whose action is malformed is refused before its (unknown) grant is looked up.
      const zed = makeGrant("zed", "zed-s1");
      const stranger = new TestSession(zed, grantIdOfText(zed.text)).sign("post", postBody("?"));
      const badProof = await post(url, "/v1/equivocations", {
        a: { ...stranger, payload: { ...stranger.payload, kind: "nope" } },
        b: stranger,
      });
      expectRefusal(badProof, 400, ErrorCode.EQUIVOCATION_PROOF_INVALID);
      // The other write routes: a body that is no object is 1002, an object with a field
      // the route does not know is 1009 naming it, and an object of the route's own fields
      // but the wrong shape gets the route's own protocol code.
      for (const [path, code, known] of [
        ["/v1/grants", ErrorCode.GRANT_TEXT_MALFORMED, ["text", "signature", "transaction"]],
        ["/v1/revocations", ErrorCode.REVOCATION_MALFORMED, ["text", "signature"]],
        ["/v1/equivocations", ErrorCode.EQUIVOCATION_PROOF_INVALID, ["a", "b"]],
      ] as const) {
        for (const body of [[], "text", 7, null]) {
          const reply = await post(url, path, body);
          expectRefusal(reply, 400, ErrorCode.INVALID_FIELD);
          expect(reply.body).toMatchObject({ context: { field: "body" } });
        }
        for (const body of [{}, { text: 5, signature: [] }, { a: 1, b: "x" }]) {
          const reply = await post(url, path, body);
          const unknown = Object.keys(body).find((k) => !(known as readonly string[]).includes(k));
          expect(reply.status, `${path} ${JSON.stringify(body)}: ${reply.text}`).toBe(400);
          expect(reply.body, `${path} ${JSON.stringify(body)}`).toMatchObject(
            unknown === undefined
              ? { code }
              : { code: ErrorCode.UNKNOWN_FIELD, context: { field: unknown } },
          );
        }
      }
    } finally {
      await held.release();
    }

    // A batch answers each item: the malformed ones without storage, the good one stored.
    const batch = await post<{ results: unknown[] }>(url, "/v1/actions", {
      actions: [5, { payload: {}, signature: "x" }, good],
    });
    expect(batch.status).toBe(200);
    expectItemRefusal(batch.body.results[0], ErrorCode.INVALID_FIELD);
    expectItemRefusal(batch.body.results[1], ErrorCode.INVALID_FIELD); // payload.grant is missing
    expect(batch.body.results[2]).toMatchObject({ ok: true, duplicate: false });
  });

  it("refuses query and path parameters out of range with 1002 naming the field", async () => {
    const { url } = await freshNode(engine);
    for (const [path, field] of [
      ["/v1/feed?limit=0", "query.limit"],
      ["/v1/feed?limit=101", "query.limit"],
      ["/v1/feed?limit=ten", "query.limit"],
      ["/v1/feed?cursor=abc", "query.cursor"],
      ["/v1/feed?cursor=12345678901234567", "query.cursor"],
      ["/v1/posts/not-an-id/thread?limit=5", "params.id"],
      ["/v1/wallets/not-a-wallet/posts", "params.wallet"],
      ["/v1/stream?after=-1", "query.after"],
    ] as const) {
      const reply = await get(url, path);
      expectRefusal(reply, 400, ErrorCode.INVALID_FIELD);
      expect(reply.body, path).toMatchObject({ context: { field } });
    }
  });
});

/** Sends raw bytes on a fresh connection; resolves with everything the node sent back. */
async function rawHttp(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  socket.write(bytes);
  await new Promise((resolve) => socket.on("close", resolve));
  return Buffer.concat(chunks).toString("utf8");
}

describe("keep-alive", () => {
  it("advertises an idle keep-alive shorter than the socket idle limit, so a client never reuses a socket being dropped", async () => {
    const { url, node } = await freshNode("pglite");
    const agent = new http.Agent({ keepAlive: true });
    const header = await new Promise<string | undefined>((resolve, reject) => {
      http
        .get(`${url}/health`, { agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(String(res.headers["keep-alive"] ?? "")));
        })
        .on("error", reject);
    });
    agent.destroy();
    const hint = /^timeout=(\d+)$/.exec(header ?? "");
    expect(hint, String(header)).not.toBeNull();
    const advertisedMs = Number(hint?.[1]) * 1000;
    const server = node.app.server;
    // Node closes an idle kept-alive socket at keepAliveTimeout (what it advertises) and
    // any socket idle for `timeout`; the second must never come first.
    expect(server.keepAliveTimeout).toBe(advertisedMs);
    expect(server.timeout).toBeGreaterThan(advertisedMs);
  });
});

describe("requests too broken to route", () => {
  it("answer with the same coded JSON body: oversized headers 431 6002, bytes that are not HTTP 400 1002", async () => {
    const { url } = await freshNode("pglite");
    const big = await rawHttp(
      url,
      `GET /v1/feed HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(big.slice(big.indexOf("\r\n\r\n") + 4))).toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
      name: "PAYLOAD_TOO_LARGE",
      context: { maxBytes: expect.any(Number) },
    });
    const junk = await rawHttp(url, "NOT HTTP AT ALL\r\n\r\n");
    expect(junk).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(junk.slice(junk.indexOf("\r\n\r\n") + 4))).toMatchObject({
      code: ErrorCode.INVALID_FIELD,
      name: "INVALID_FIELD",
      context: { field: "request" },
    });
  });
});

describe.each(ENGINES)("rate limit on %s", (engine) => {
  it("limits requests per IP with 429 6003 but never /health or /metrics, whatever the query", async () => {
    const { url } = await freshNode(engine, { config: { rateLimitPerMinute: 3 } });
    for (let i = 0; i < 3; i++) expect((await get(url, "/v1/feed")).status).toBe(200);
    expectRefusal(await get(url, "/v1/feed"), 429, ErrorCode.TOO_MANY_REQUESTS);
    expectRefusal(await get(url, "/v1/feed?x=1"), 429, ErrorCode.TOO_MANY_REQUESTS);
    for (const path of ["/health", "/health?x", "/health?probe=1", "/metrics", "/metrics?a=b"]) {
      for (let i = 0; i < 4; i++) expect((await get(url, path)).status, path).toBe(200);
    }
  });

  it("a limit of 0 turns the rate limit off", async () => {
    const { url } = await freshNode(engine, { config: { rateLimitPerMinute: 0 } });
    for (let i = 0; i < 20; i++) expect((await get(url, "/v1/feed")).status).toBe(200);
  });
});
