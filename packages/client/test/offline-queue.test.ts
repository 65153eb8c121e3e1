import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { SignedAction } from "@sesame/protocol";
import { sql } from "kysely";
import { afterAll, describe, expect, it, vi } from "vitest";
import { NodeApi } from "../src/index.js";
import { FileSessionStore, keypairWallet } from "../src/node.js";
import {
  policy,
  removeDir,
  startTestNode,
  type TestNode,
  templatePgliteDir,
  testClient,
} from "./helpers.js";

const nodes: TestNode[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const n of nodes) await n.close();
  for (const d of dirs) await removeDir(d);
});

async function rowCount(n: TestNode, grant: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from actions where grant_id = ${grant}`.execute(
    n.node.ctx.storage.db,
  );
  return rows[0]?.n ?? -1;
}

describe("offline queue", () => {
  it("actions signed while the node is down are queued, then delivered in order, exactly once, when it returns on the same data and port", async () => {
    const dataDir = await templatePgliteDir();
    dirs.push(dirname(dataDir));
    let node = await startTestNode({ pgliteDir: dataDir });
    nodes.push(node);
    const port = node.port;
    const keystore = join(mkdtempSync(join(tmpdir(), "sesame-offline-")), "ks.json");
    const c = testClient(node.url, { store: new FileSessionStore(keystore, "offline") });
    const session = await c.manager.start(policy(["post", "reply", "react"]));
    const root = await c.social.post("online #1");
    if (root.status !== "accepted") throw new Error("not accepted");

    await node.close();
    const queued = [
      await c.social.post("offline #1"),
      await c.social.reply(root.id, "offline reply"),
      await c.social.react(root.id),
      await c.social.post("offline #2"),
    ];
    expect(queued.map((r) => r.status)).toEqual(["queued", "queued", "queued", "queued"]);
    const record = await c.store.getRecord(session.slot);
    expect(record?.outbox.map((a) => a.payload.seq)).toEqual([2, 3, 4, 5]);
    // Still down: flushing delivers nothing and keeps everything.
    expect(await c.social.flush()).toBe(0);
    expect((await c.store.getRecord(session.slot))?.outbox.length).toBe(4);

    node = await startTestNode({ pgliteDir: dataDir, port });
    nodes.push(node);
    expect(node.port).toBe(port);
    expect(await c.social.flush()).toBe(4);
    expect((await c.store.getRecord(session.slot))?.outbox).toEqual([]);
    expect(await c.social.flush()).toBe(0);

    // In order: log ids grow with seq; exactly once: one row per action.
    const { rows } = await sql<{ seq: number; kind: string; id: string }>`
      select seq, kind, id from actions where grant_id = ${session.grantId} order by log_id`.execute(
      node.node.ctx.storage.db,
    );
    expect(rows.map((r) => [r.seq, r.kind])).toEqual([
      [1, "post"],
      [2, "post"],
      [3, "reply"],
      [4, "react"],
      [5, "post"],
    ]);
    expect(rows.slice(1).map((r) => r.id)).toEqual(queued.map((q) => q.id));
    const thread = await c.social.thread(root.id);
    expect(thread.replies.items.map((r) => r.id)).toEqual([queued[1]?.id]);

    // Online again: the next action goes straight out.
    expect((await c.social.post("online #2")).status).toBe("accepted");
    expect(await rowCount(node, session.grantId)).toBe(6);
    expect(c.prompts()).toBe(1);
  });

  it("a queued action whose answer was lost is sent again and counted once (duplicate), never stored twice", async () => {
    const node = await startTestNode();
    nodes.push(node);
    // The first request for actions reaches the node and commits, but its answer is lost.
    let drop = 1;
    const api = new NodeApi(node.url, async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === "POST" && String(input).endsWith("/v1/actions") && drop-- > 0) {
        throw new TypeError("fetch failed: connection reset");
      }
      return res;
    });
    const c = testClient(node.url, { api });
    const session = await c.manager.start(policy(["post"]));
    const r = await c.social.post("sent once, answered never");
    expect(r.status).toBe("queued");
    expect(await rowCount(node, session.grantId)).toBe(1);
    const pending = (await c.store.getRecord(session.slot))?.outbox as SignedAction[];
    expect(pending.length).toBe(1);

    const next = await c.social.post("the next one");
    expect(next.status).toBe("accepted");
    expect((await c.store.getRecord(session.slot))?.outbox).toEqual([]);
    expect(await rowCount(node, session.grantId)).toBe(2);
    const [s] = await c.manager.list();
    expect(s?.used).toEqual({ post: 2 });
    // Sending the same signed action yet again changes nothing.
    expect((await c.api.postActions(pending))[0]).toMatchObject({
      ok: true,
      duplicate: true,
      id: r.id,
    });
    expect(await rowCount(node, session.grantId)).toBe(2);
  });

  it("an action whose outcome the node could not tell in time (6009) stays queued, and resending it stores it once", async () => {
    const node = await startTestNode({ config: { requestTimeoutMs: 2000 } });
    nodes.push(node);
    const c = testClient(node.url);
    const session = await c.manager.start(policy(["post"]));
    expect((await c.social.post("before")).status).toBe("accepted");
    // Another connection holds the session's state row: the commit waits past the deadline.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = node.node.ctx.storage.db.transaction().execute(async (tx) => {
      await sql`select state from sessions where grant_id = ${session.grantId} for update`.execute(
        tx,
      );
      locked();
      await released;
    });
    await isLocked;
    let r: Awaited<ReturnType<typeof c.social.post>>;
    try {
      r = await c.social.post("outcome unknown");
    } finally {
      release();
      await holder;
    }
    expect(r.status).toBe("queued");
    expect((await c.store.getRecord(session.slot))?.outbox.map((a) => a.payload.seq)).toEqual([2]);
    // The commit went through once the lock was free; the resend is the same signed action.
    expect(await c.social.flush()).toBe(1);
    expect((await c.store.getRecord(session.slot))?.outbox).toEqual([]);
    expect(await rowCount(node, session.grantId)).toBe(2);
  });

  it("actions queued before a renewal are still delivered after it", async () => {
    const node = await startTestNode();
    nodes.push(node);
    let down = false;
    const api = new NodeApi(node.url, async (input, init) => {
      if (down && String(input).endsWith("/v1/actions")) throw new TypeError("fetch failed");
      return await fetch(input, init);
    });
    const c = testClient(node.url, { api });
    const old = await c.manager.start(policy(["post"]));
    down = true;
    expect((await c.social.post("queued under the old session")).status).toBe("queued");
    down = false;
    const renewed = await c.manager.renew();
    expect((await c.social.post("first of the new session")).status).toBe("accepted");
    const used = Object.fromEntries((await c.manager.list()).map((s) => [s.grant, s.used]));
    expect(used).toEqual({ [old.grantId]: { post: 1 }, [renewed.grantId]: { post: 1 } });
  });

  it("an action queued while the wallet is being asked to renew is not lost when the new session is saved", async () => {
    const node = await startTestNode();
    nodes.push(node);
    let down = false;
    const api = new NodeApi(node.url, async (input, init) => {
      if (down && String(input).endsWith("/v1/actions")) throw new TypeError("fetch failed");
      return await fetch(input, init);
    });
    const c = testClient(node.url, { api, retry: false });
    const old = await c.manager.start(policy(["post"]));
    // A wallet that waits for the person: the renewal is pending until `approve()`.
    let approve: (() => void) | undefined;
    const signed = keypairWallet(c.walletPath);
    c.manager.connect({
      ...signed,
      signMessage: async (m) => {
        await new Promise<void>((resolve) => {
          approve = resolve;
        });
        return await signed.signMessage(m);
      },
    });
    const renewing = c.manager.renew();
    await vi.waitFor(() => expect(approve).not.toBe(undefined));
    down = true;
    const queued = await c.social.post("queued while the wallet dialog is open");
    expect(queued.status).toBe("queued");
    approve?.();
    const renewed = await renewing;
    expect((await c.store.getRecord(renewed.slot))?.outbox.map((a) => a.payload.grant)).toEqual([
      old.grantId,
    ]);
    down = false;
    expect(await c.social.flush()).toBe(1);
    expect(await rowCount(node, old.grantId)).toBe(1);
  });
});
