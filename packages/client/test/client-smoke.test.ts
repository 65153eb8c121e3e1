import "fake-indexeddb/auto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode, grantIdOfText, isProtocolError } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeGrant, T0 } from "../../protocol/scripts/fixtures.js";
import { IndexedDbSessionStore, NodeApi, SessionManager, SocialClient } from "../src/index.js";
import { createKeypairFile, keypairWallet } from "../src/node.js";
import { CONTEXT, startTestNode, type TestNode } from "./helpers.js";

describe("a session from the SDK against a real node", () => {
  let node: TestNode;
  let base: string;
  beforeAll(async () => {
    // PostgreSQL on its own schema: a fresh PGlite costs seconds of initdb.
    node = await startTestNode();
    base = node.url;
  });
  afterAll(async () => node.close());

  function client(label: string) {
    const dir = mkdtempSync(join(tmpdir(), "sesame-client-"));
    const path = join(dir, "wallet.json");
    const address = createKeypairFile(path);
    let prompts = 0;
    const wallet = keypairWallet(path, () => prompts++);
    const store = new IndexedDbSessionStore(`sesame-${label}-${Math.random()}`);
    const api = new NodeApi(base);
    const manager = new SessionManager({
      store,
      api,
      walletAddress: address,
      wallet,
      app: {
        domain: "app.sesame.test",
        uri: "https://app.sesame.test/",
        device: label,
        ...CONTEXT,
      },
    });
    const social = new SocialClient({
      manager,
      store,
      api,
      backend: nodeEd25519(),
      context: CONTEXT,
    });
    return { manager, social, prompts: () => prompts, address };
  }

  it("posts 100 times on one wallet prompt, then a revoked session is refused", async () => {
    const alice = client("alice");
    await alice.manager.start({
      scopes: ["post", "dm"],
      limits: { post: { total: 200, perHour: null }, dm: { total: 100, perHour: null } },
      durationMs: 3_600_000,
    });
    expect(alice.prompts()).toBe(1);
    for (let i = 0; i < 100; i++) {
      const r = await alice.social.post(`post ${i}`);
      expect(r.status).toBe("accepted");
    }
    expect(alice.prompts()).toBe(1);
    const feed = await alice.social.feed({ limit: 100 });
    expect(feed.items.length).toBe(100);
    expect(feed.items.every((i) => i.wallet === alice.address)).toBe(true);

    const bob = client("bob");
    await bob.manager.start({
      scopes: ["dm"],
      limits: { dm: { total: 10, perHour: null } },
      durationMs: 3_600_000,
    });
    await alice.social.sendDm(bob.address, "hello bob, only you can read this");
    const inbox = await bob.social.inbox();
    expect(inbox.items[0]?.message?.text).toBe("hello bob, only you can read this");

    await alice.manager.revoke();
    expect(alice.prompts()).toBe(2);
    await expect(alice.social.post("after revoke")).rejects.toSatisfy(
      (e) => isProtocolError(e) && e.code === ErrorCode.SESSION_REVOKED,
    );
  });

  it("NodeApi.sessions() follows every page; sessionsPage() serves one at a time", async () => {
    // 101 grants of one wallet, one more than a page holds, at the fixtures' time.
    node.offset = T0 + 60_000 - Date.now();
    try {
      const grants: string[] = [];
      for (let i = 0; i < 101; i++) {
        const fixture = makeGrant("carol", `carol-paged-${i}`, { issuedAt: T0 - i * 1000 });
        const res = await fetch(`${base}/v1/grants`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text: fixture.text, signature: fixture.signature }),
        });
        expect(res.status).toBe(201);
        grants.push(grantIdOfText(fixture.text));
      }
      const wallet = makeGrant("carol").wallet.address;
      const api = new NodeApi(base);
      // Newest grant first: issued at T0, T0 - 1 s, ...
      expect((await api.sessions(wallet)).map((s) => s.grant)).toEqual(grants);
      const first = await api.sessionsPage(wallet, { limit: 60 });
      expect(first.items.map((s) => s.grant)).toEqual(grants.slice(0, 60));
      expect(first.next).toBe(`${T0 - 59_000}:${grants[59]}`);
      const rest = await api.sessionsPage(wallet, { cursor: first.next, limit: 100 });
      expect(rest.items.map((s) => s.grant)).toEqual(grants.slice(60));
      expect(rest.next).toBeNull();
      await expect(api.sessionsPage(wallet, { cursor: "not-a-cursor" })).rejects.toSatisfy(
        (e) => isProtocolError(e) && e.code === ErrorCode.INVALID_FIELD,
      );
    } finally {
      node.offset = 0;
    }
  });
});
