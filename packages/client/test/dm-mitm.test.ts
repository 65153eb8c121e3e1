import "fake-indexeddb/auto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNode } from "@sesame/node";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  IndexedDbSessionStore,
  NodeApi,
  type ServedSession,
  SessionManager,
  SocialClient,
} from "../src/index.js";
import { createKeypairFile, keypairWallet } from "../src/node.js";

const CONTEXT = { chain: "solana:localnet", network: "sesame-test" };

/** A node that lies about a wallet's sessions: it lists one more, with its own key. */
class LyingApi extends NodeApi {
  extra: ServedSession[] = [];
  override async sessions(wallet: string): Promise<ServedSession[]> {
    return [...(await super.sessions(wallet)), ...this.extra.map((s) => ({ ...s }))];
  }
}

describe("DM keys come only from grants the sender verified", () => {
  let node: Awaited<ReturnType<typeof createNode>>;
  let base: string;
  beforeAll(async () => {
    node = await createNode({ config: { verify: CONTEXT } });
    base = await node.app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => node.close());

  async function actor(label: string, api: NodeApi) {
    const path = join(mkdtempSync(join(tmpdir(), "sesame-mitm-")), "wallet.json");
    const address = createKeypairFile(path);
    const store = new IndexedDbSessionStore(`sesame-mitm-${label}-${Math.random()}`);
    const manager = new SessionManager({
      store,
      api,
      walletAddress: address,
      wallet: keypairWallet(path),
      app: {
        domain: "app.sesame.test",
        uri: "https://app.sesame.test/",
        device: label,
        ...CONTEXT,
      },
    });
    await manager.start({
      scopes: ["dm"],
      limits: { dm: { total: 50, perHour: null } },
      durationMs: 3_600_000,
    });
    const social = new SocialClient({
      manager,
      store,
      api,
      backend: nodeEd25519(),
      context: CONTEXT,
    });
    return { address, manager, social };
  }

  it("a node listing a forged or foreign session under the recipient gets no copy", async () => {
    const lying = new LyingApi(base);
    const alice = await actor("alice", lying);
    const bob = await actor("bob", new NodeApi(base));
    const mallory = await actor("mallory", new NodeApi(base));
    const [bobSession] = await bob.manager.list();
    const [mallorySession] = await mallory.manager.list();
    if (bobSession === undefined || mallorySession === undefined) throw new Error("no sessions");
    lying.extra = [
      // Mallory's real, validly signed session, claimed to be Bob's.
      { ...mallorySession },
      // A made-up session with Mallory's key and Bob's grant id.
      { ...bobSession, encryptionKey: mallorySession.encryptionKey },
    ];
    const sent = await alice.social.sendDm(bob.address, "for Bob only");
    expect(sent.status).toBe("accepted");
    const inbox = await bob.social.inbox();
    expect(inbox.items[0]?.message?.text).toBe("for Bob only");
    const stored = await node.ctx.storage.db
      .selectFrom("actions")
      .select("payload")
      .where("kind", "=", "dm")
      .execute();
    const copies = JSON.parse(stored[0]?.payload ?? "{}").body.copies as { key: string }[];
    expect(copies.map((c) => c.key)).not.toContain(mallorySession.encryptionKey);
    expect(copies.map((c) => c.key)).toContain(bobSession.encryptionKey);
    const malloryInbox = await mallory.social.inbox();
    expect(malloryInbox.items.length).toBe(0);
  });
});
