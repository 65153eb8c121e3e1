/**
 * The outbox against what sits between a client and a node in real deployments: a proxy
 * answering 413, 429 or 502 without a Sesame error body, and a node holding actions back
 * as over the hourly rate. A real HTTP proxy in front of a real node.
 */
import { copyFileSync, mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SignedAction } from "@sesame/protocol";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  ErrorCode,
  isClientError,
  isProtocolError,
  NodeApi,
  type SesameClientError,
} from "../src/index.js";
import { FileSessionStore } from "../src/node.js";
import { policy, startTestNode, type TestNode, testClient } from "./helpers.js";

type Mode = "pass" | "413" | "429" | "502" | "down";

/** A proxy in front of `target`: POST /v1/actions answered by `mode`, the rest forwarded. */
async function proxy(target: string) {
  const state = { mode: "pass" as Mode, times: Number.POSITIVE_INFINITY, actionPosts: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const isActions = req.method === "POST" && req.url?.startsWith("/v1/actions") === true;
      if (isActions) state.actionPosts++;
      if (isActions && state.mode !== "pass" && state.times > 0) {
        state.times--;
        if (state.mode === "down") {
          req.socket.destroy();
          return;
        }
        const status = Number(state.mode);
        res.writeHead(status, {
          "content-type": "text/html",
          ...(status === 429 ? { "retry-after": "0" } : {}),
        });
        res.end(`<html><body><h1>${status}</h1>nginx</body></html>`);
        return;
      }
      try {
        const body = Buffer.concat(chunks);
        const upstream = await fetch(`${target}${req.url}`, {
          method: req.method ?? "GET",
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(
              ([k, v]) =>
                typeof v === "string" && !["host", "content-length", "connection"].includes(k),
            ) as [string, string][],
          ),
          ...(body.length > 0 ? { body } : {}),
        });
        res.writeHead(upstream.status, {
          "content-type": upstream.headers.get("content-type") ?? "application/json",
        });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      } catch {
        res.writeHead(599);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    set(mode: Mode, times = Number.POSITIVE_INFINITY) {
      state.mode = mode;
      state.times = times;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function rows(n: TestNode, grant: string) {
  return (
    await sql<{ seq: number; ord: number; id: string }>`
      select seq, ord, id from actions where grant_id = ${grant} order by log_id`.execute(
      n.node.ctx.storage.db,
    )
  ).rows;
}

let node: TestNode;
let front: Awaited<ReturnType<typeof proxy>>;
beforeAll(async () => {
  node = await startTestNode();
  front = await proxy(node.url);
});
afterAll(async () => {
  await front.close();
  await node.close();
});

describe("outbox: answers that are not Sesame's", () => {
  it("a proxy's 429 and 502 keep the action queued; the client retries with backoff and delivers it once, with no flush() call", async () => {
    const c = testClient(front.url, { retry: { baseMs: 20, maxMs: 200 } });
    const s = await c.manager.start(policy(["post"]));
    front.set("429", 3);
    const r = await c.social.post("through a busy proxy");
    expect(r.status).toBe("queued");
    if (r.status !== "queued") throw new Error("unreachable");
    expect(isClientError(r.error, "HTTP_STATUS")).toBe(true);
    expect((r.error as SesameClientError<"HTTP_STATUS">).context).toEqual({
      status: 429,
      transient: true,
      retryAfterMs: 0,
    });
    await vi.waitFor(async () => expect((await c.store.getRecord(s.slot))?.outbox.length).toBe(0), {
      timeout: 20_000,
      interval: 50,
    });
    expect((await rows(node, s.grantId)).map((x) => x.id)).toEqual([r.id]);

    front.set("502", 2);
    const g = await c.social.post("through a broken gateway");
    expect(g.status).toBe("queued");
    await vi.waitFor(async () => expect((await c.store.getRecord(s.slot))?.outbox.length).toBe(0), {
      timeout: 20_000,
      interval: 50,
    });
    expect((await rows(node, s.grantId)).map((x) => x.id)).toEqual([r.id, g.id]);
    front.set("pass");
    c.social.close();
    // Nobody waits on those answers any more: nothing is kept for them.
    expect(c.social.pendingAnswers).toBe(0);
  });

  it("a proxy's 413 is final: the action is refused with a clear HTTP_STATUS 413 error and leaves the outbox; the queue goes on", async () => {
    const c = testClient(front.url, { retry: false });
    const s = await c.manager.start(policy(["post"]));
    front.set("413", 1);
    const e = await c.social.post("too large for the proxy").catch((x: unknown) => x);
    expect(isClientError(e, "HTTP_STATUS")).toBe(true);
    expect((e as SesameClientError<"HTTP_STATUS">).context.status).toBe(413);
    expect((e as Error).message).toMatch(/413.*refuses requests this large/);
    expect((await c.store.getRecord(s.slot))?.outbox).toEqual([]);
    front.set("pass");
    expect((await c.social.post("the next one")).status).toBe("accepted");
    expect((await rows(node, s.grantId)).map((x) => x.seq)).toEqual([2]);
  });

  it("a 413 on a batch: the batch is split, only the action the proxy refuses alone is dropped, the rest is delivered in order", async () => {
    const refused: unknown[] = [];
    const c = testClient(front.url, { retry: false, onRefused: (_a, e) => refused.push(e) });
    const s = await c.manager.start(policy(["post"]));
    front.set("down");
    for (let i = 0; i < 3; i++) expect((await c.social.post(`offline ${i}`)).status).toBe("queued");
    // The batch of three is refused as too large, then the first alone too; the others pass.
    front.set("413", 2);
    expect(await c.social.flush()).toBe(3);
    front.set("pass");
    expect((await rows(node, s.grantId)).map((x) => x.seq)).toEqual([2, 3]);
    expect(refused.length).toBe(1);
    expect(isClientError(refused[0], "HTTP_STATUS")).toBe(true);
    expect((await c.store.getRecord(s.slot))?.outbox).toEqual([]);
    expect(c.social.pendingAnswers).toBe(0);
  });
});

describe("outbox: OVER_RATE holds the action back instead of dropping it", () => {
  it("4003 keeps the signed action queued; the automatic retry delivers it, unchanged, once the node's hour has moved on", async () => {
    const c = testClient(node.url, { retry: { rateMs: 50 } });
    const s = await c.manager.start(policy(["post"], { post: { perHour: 2 } }, 3 * 3_600_000));
    await c.social.post("1");
    await c.social.post("2");
    const held = await c.social.post("3, over the rate");
    expect(held.status).toBe("queued");
    if (held.status !== "queued") throw new Error("unreachable");
    expect(isProtocolError(held.error, ErrorCode.OVER_RATE)).toBe(true);
    const signed = (await c.store.getRecord(s.slot))?.outbox;
    expect(signed?.length).toBe(1);
    // Retried every 50 ms and still held while the hour lasts: nothing dropped.
    await new Promise((r) => setTimeout(r, 300));
    expect((await c.store.getRecord(s.slot))?.outbox).toEqual(signed);
    expect((await rows(node, s.grantId)).length).toBe(2);
    try {
      node.offset = 61 * 60_000;
      await vi.waitFor(
        async () => expect((await c.store.getRecord(s.slot))?.outbox.length).toBe(0),
        { timeout: 20_000, interval: 50 },
      );
    } finally {
      node.offset = 0;
      c.social.close();
    }
    // The very action signed an hour earlier (same id, same timestamp), accepted once.
    expect((await rows(node, s.grantId)).map((x) => x.id).at(-1)).toBe(held.id);
    expect((await c.manager.list())[0]?.used).toEqual({ post: 3 });
    expect(c.social.pendingAnswers).toBe(0);
  });
});

/** The real HTTP client, also noting which signed actions it sent. */
class RecordingApi extends NodeApi {
  readonly sent: string[] = [];
  override async postActions(actions: readonly SignedAction[]) {
    this.sent.push(...actions.map((a) => a.signature));
    return await super.postActions(actions);
  }
}

describe("outbox: per-scope order behind an action held as over the rate", () => {
  it("a post held with 4003 holds later posts, unsent, but not a follow; each is delivered once, in order", async () => {
    const api = new RecordingApi(node.url);
    const c = testClient(node.url, { api, retry: false });
    const s = await c.manager.start(
      policy(["post", "follow"], { post: { perHour: 1 } }, 3 * 3_600_000),
    );
    const outbox = async () =>
      ((await c.store.getRecord(s.slot))?.outbox ?? []).map((a) => a.signature);
    try {
      const p1 = await c.social.post("p1");
      expect(p1.status).toBe("accepted");
      const p2 = await c.social.post("p2, over the rate");
      expect(p2.status).toBe("queued");
      // Another scope is not held behind the post: sent (after p2, again held) and accepted.
      const f = await c.social.follow(testClient(node.url).address);
      expect(f.status).toBe("accepted");
      const [p2sig] = await outbox();
      const p3 = await c.social.post("p3, behind p2");
      expect(p3.status).toBe("queued");
      if (p3.status !== "queued") throw new Error("unreachable");
      expect(isProtocolError(p3.error, ErrorCode.OVER_RATE)).toBe(true);
      const [, p3sig] = await outbox();
      expect(await outbox()).toEqual([p2sig, p3sig]);
      // p3 never left this device while p2 was held: the node did not see it at all.
      expect(api.sent).not.toContain(p3sig);
      expect(api.sent.filter((x) => x === p2sig).length).toBe(3);

      // An hour later p2 goes first and is accepted; p3 is now the one over the rate.
      node.offset = 61 * 60_000;
      expect(await c.social.flush()).toBe(1);
      expect(await outbox()).toEqual([p3sig]);
      node.offset = 122 * 60_000;
      expect(await c.social.flush()).toBe(1);
      expect(await outbox()).toEqual([]);
      expect(await c.social.flush()).toBe(0);
    } finally {
      node.offset = 0;
      c.social.close();
    }
    // Each stored once: p1 (seq 1), the follow (seq 3), then p2 (seq 2) and p3 (seq 4),
    // so the posts were accepted in the order they were signed (ordinals 1, 2, 3).
    const stored = await rows(node, s.grantId);
    expect(stored.map((x) => x.seq)).toEqual([1, 3, 2, 4]);
    expect(stored.filter((x) => x.seq !== 3).map((x) => x.ord)).toEqual([1, 2, 3]);
  });
});

describe("counters after a keystore restored from a backup", () => {
  it("resume asks the node for the session's highest seq and ordinals: the next action is accepted, no equivocation", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sesame-restore-"));
    const keystore = join(dir, "ks.json");
    const c = testClient(node.url, { store: new FileSessionStore(keystore, "restore") });
    const s = await c.manager.start(policy(["post", "react"]));
    copyFileSync(keystore, join(dir, "backup.json")); // nextSeq 1, no ordinals used
    const first = await c.social.post("before the backup is restored");
    if (first.status !== "accepted") throw new Error("not accepted");
    for (let i = 0; i < 4; i++) await c.social.post(`post ${i}`);
    await c.social.react(first.id);

    // The device is restored from the backup: its counters go back to the start.
    copyFileSync(join(dir, "backup.json"), keystore);
    const restored = testClient(node.url, {
      store: new FileSessionStore(keystore, "restore"),
      wallet: { path: c.walletPath, address: c.address },
    });
    expect((await restored.store.getRecord(s.slot))?.nextSeq).toBe(1);
    const r = await restored.social.post("after the restore");
    expect(r.status).toBe("accepted");
    expect((await restored.social.react(first.id, "🔥")).status).toBe("accepted");
    const stored = await rows(node, s.grantId);
    expect(stored.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(stored.at(-2)).toMatchObject({ seq: 7, ord: 6, id: r.id });
    const [listed] = await restored.manager.list();
    expect(listed).toMatchObject({ status: "active", maxSeq: 8, maxOrd: { post: 6, react: 2 } });
    const proofs = await sql<{ n: number }>`select count(*)::int as n from equivocations`.execute(
      node.node.ctx.storage.db,
    );
    expect(proofs.rows[0]?.n).toBe(0);
    expect(restored.prompts()).toBe(0);
  });
});
