import "fake-indexeddb/auto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type DmBody,
  type EncryptionPublicKey,
  fromBase58,
  requestSigningBytes,
  toBase58,
  toBase64url,
  utf8,
  type WalletAddress,
} from "@sesame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decryptDm,
  encryptDm,
  IndexedDbSessionStore,
  MemorySessionStore,
  type ServedAction,
  type SessionKeys,
} from "../src/index.js";
import { FileSessionStore } from "../src/node.js";
import {
  app,
  dumpDatabase,
  newWalletFile,
  policy,
  startTestNode,
  type TestClient,
  type TestEngine,
  type TestNode,
  testClient,
} from "./helpers.js";

const DM = policy(["dm", "post"]);

function dmBodyOf(action: ServedAction): DmBody {
  return (action.payload as { body: DmBody }).body;
}

/** The stored DM with this id, as any reader (or a breached node) gets it. */
async function storedDm(c: TestClient, id: string): Promise<ServedAction> {
  const page = await c.api.inbox(
    c.address,
    async (method, path) => {
      // A signed read request, as the SDK makes it, to get the raw stored items.
      const s = await c.manager.resume();
      if (s === undefined) throw new Error("no session");
      const payload = { v: 1 as const, grant: s.grantId, method, path, ts: Date.now() };
      const signature = toBase58(await s.keys.sign(requestSigningBytes(payload)));
      return toBase64url(utf8(JSON.stringify({ payload, signature })));
    },
    { limit: 100 },
  );
  const raw = page.items.find((i) => i.id === id);
  if (raw === undefined) throw new Error(`no raw DM ${id}`);
  return raw;
}

describe("direct messages, end to end", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(async () => node.close());

  it("DM round trip: two wallets exchange messages through the node and each reads them", async () => {
    const alice = testClient(node.url);
    const bob = testClient(node.url);
    await alice.manager.start(DM);
    await bob.manager.start(DM);
    const sent = await alice.social.sendDm(bob.address, "hello bob, only you can read this");
    expect(sent.status).toBe("accepted");
    await bob.social.sendDm(alice.address, "hi alice 👋");
    const bobs = await bob.social.inbox();
    expect(bobs.items.map((m) => [m.from, m.to, m.message?.text])).toEqual([
      [bob.address, alice.address, "hi alice 👋"],
      [alice.address, bob.address, "hello bob, only you can read this"],
    ]);
    const alices = await alice.social.inbox();
    expect(alices.items.map((m) => m.message?.text)).toEqual([
      "hi alice 👋",
      "hello bob, only you can read this",
    ]);
    expect(alice.prompts() + bob.prompts()).toBe(2);
  });

  it("DM copies go to the sender's own other live sessions, which read what it sent", async () => {
    const wallet = newWalletFile();
    const laptop = testClient(node.url, { wallet, app: app("Laptop") });
    const phone = testClient(node.url, { wallet, app: app("Phone") });
    const bob = testClient(node.url);
    await laptop.manager.start(DM);
    await phone.manager.start(DM);
    await bob.manager.start(DM);
    const sent = await laptop.social.sendDm(bob.address, "sent from the laptop");
    if (sent.status !== "accepted") throw new Error("not accepted");
    const stored = await storedDm(bob, sent.id);
    const keys = dmBodyOf(stored).copies.map((c) => c.key);
    const live = async (c: TestClient) => (await c.manager.resume())?.grant.encryptionKey;
    expect(new Set(keys)).toEqual(
      new Set([await live(laptop), await live(phone), await live(bob)]),
    );
    expect((await phone.social.inbox()).items[0]?.message?.text).toBe("sent from the laptop");
    expect((await laptop.social.inbox()).items[0]?.message?.text).toBe("sent from the laptop");
  });

  it("DM copies over the 16-copies limit: the sending session, 3 of the sender's others, then the recipient's, newest first; the rest is reported left out", async () => {
    const aliceWallet = newWalletFile();
    const bobWallet = newWalletFile();
    // Sessions started a second apart (older ones first), so "newest" is well defined.
    const started = async (wallet: typeof aliceWallet, label: string, secondsAgo: number) => {
      const c = testClient(node.url, {
        wallet,
        app: app(label),
        clock: () => Date.now() - secondsAgo * 1000,
      });
      return { c, grant: (await c.manager.start(DM)).grantId };
    };
    const aliceOthers = [];
    for (let i = 0; i < 5; i++) aliceOthers.push(await started(aliceWallet, `alice ${i}`, 60 - i));
    const bobs = [];
    for (let i = 0; i < 14; i++) bobs.push(await started(bobWallet, `bob ${i}`, 40 - i));
    const sender = testClient(node.url, { wallet: aliceWallet, app: app("alice sender") });
    const self = await sender.manager.start(DM);

    const sent = await sender.social.sendDm(bobWallet.address, "over the copies limit");
    expect(sent.status).toBe("accepted");
    expect(sent.copies).toBe(16);
    // 1 + 3 of Alice's others + 12 of Bob's 14 = 16: Bob's 2 oldest and Alice's 2 oldest out.
    expect(new Set(sent.leftOut.map((s) => s.grant))).toEqual(
      new Set([bobs[0]?.grant, bobs[1]?.grant, aliceOthers[0]?.grant, aliceOthers[1]?.grant]),
    );
    expect(sent.leftOut.map((s) => s.device).sort()).toEqual([
      "alice 0",
      "alice 1",
      "bob 0",
      "bob 1",
    ]);
    if (sent.status !== "accepted") throw new Error("not accepted");
    const keys = new Set<string>(
      dmBodyOf(await storedDm(sender, sent.id)).copies.map((c) => c.key),
    );
    expect(keys.has(self.grant.encryptionKey)).toBe(true);
    const keyOf = async (x: { c: TestClient }) => (await x.c.manager.resume())?.grant.encryptionKey;
    for (const x of aliceOthers.slice(2)) expect(keys.has((await keyOf(x)) ?? "")).toBe(true);
    for (const x of bobs.slice(2)) expect(keys.has((await keyOf(x)) ?? "")).toBe(true);
    // The newest of Bob's sessions reads it; one left out cannot.
    expect((await bobs[13]?.c.social.inbox())?.items[0]?.message?.text).toBe(
      "over the copies limit",
    );
    const leftOutRead = await bobs[0]?.c.social.inbox();
    expect(leftOutRead?.items[0]?.id).toBe(sent.id);
    expect(leftOutRead?.items[0]?.message).toBeUndefined();
  });

  it("DM leaked session key: it decrypts only what was sent to that session; another session of the same wallet that was not live at send time cannot", async () => {
    const alice = testClient(node.url);
    const bobWallet = newWalletFile();
    const bobOld = testClient(node.url, { wallet: bobWallet, app: app("old phone") });
    await alice.manager.start(DM);
    await bobOld.manager.start(DM);
    const before = await alice.social.sendDm(bobWallet.address, "before the new phone");
    // Bob's second session starts after the first message.
    const bobNew = testClient(node.url, { wallet: bobWallet, app: app("new phone") });
    await bobNew.manager.start(DM);
    const after = await alice.social.sendDm(bobWallet.address, "after the new phone");

    // The attacker holds bobNew's leaked session keys (as a SessionKeys object) and every
    // ciphertext the node stores.
    const leaked = (await bobNew.manager.resume())?.keys as SessionKeys;
    const first = dmBodyOf(await storedDm(bobOld, before.id));
    const second = dmBodyOf(await storedDm(bobOld, after.id));
    expect(await decryptDm(alice.address, first, leaked)).toBeUndefined(); // no copy for it
    expect(first.copies.some((c) => c.key === leaked.encryptionKey)).toBe(false);
    expect((await decryptDm(alice.address, second, leaked))?.text).toBe("after the new phone");
    // Even forcing the leaked key onto another session's copy fails to authenticate.
    for (const copy of first.copies) {
      const forced = { ...first, copies: [{ ...copy, key: leaked.encryptionKey }] };
      await expect(decryptDm(alice.address, forced, leaked)).rejects.toThrow();
    }
    // What the SDK shows the new session: the later message only.
    const inbox = await bobNew.social.inbox();
    expect(inbox.items.map((m) => m.message?.text ?? null)).toEqual(["after the new phone", null]);
  });

  it("DM after a session's keys are destroyed (revoke / destroyKeys), its messages cannot be decrypted by anyone", async () => {
    const bobKeystore = join(mkdtempSync(join(tmpdir(), "sesame-dm-")), "ks.json");
    const alice = testClient(node.url, { store: new IndexedDbSessionStore(`dm-${Math.random()}`) });
    const bob = testClient(node.url, { store: new FileSessionStore(bobKeystore, "bob") });
    const aliceSession = await alice.manager.start(DM);
    const bobSession = await bob.manager.start(DM);
    const sent = await alice.social.sendDm(bob.address, "burn after reading");
    const body = dmBodyOf(await storedDm(bob, sent.id));
    // Exactly two copies exist: bob's session and alice's own.
    expect(new Set(body.copies.map((c) => c.key))).toEqual(
      new Set([bobSession.grant.encryptionKey, aliceSession.grant.encryptionKey]),
    );
    expect((await decryptDm(alice.address, body, bobSession.keys))?.text).toBe(
      "burn after reading",
    );

    // Bob revokes his session (keys destroyed on his device); alice destroys hers.
    await bob.manager.revoke();
    await alice.store.destroyKeys(aliceSession.record.keyId);
    expect(await bob.store.loadKeys(bobSession.record.keyId)).toBeUndefined();
    expect(await alice.store.loadKeys(aliceSession.record.keyId)).toBeUndefined();
    // Nothing of the key is left in bob's keystore file.
    const file = JSON.parse(readFileSync(bobKeystore, "utf8")) as { keys: Record<string, unknown> };
    expect(Object.keys(file.keys)).toEqual([]);

    // New sessions of both wallets hold no copy; the node never had a key.
    const bobAgain = await bob.manager.start(DM);
    const aliceAgain = await alice.manager.start(DM);
    expect(await decryptDm(alice.address, body, bobAgain.keys)).toBeUndefined();
    expect(await decryptDm(alice.address, body, aliceAgain.keys)).toBeUndefined();
    for (const copy of body.copies) {
      const forced = { ...body, copies: [{ ...copy, key: bobAgain.keys.encryptionKey }] };
      await expect(decryptDm(alice.address, forced, bobAgain.keys)).rejects.toThrow();
    }
    expect((await bob.social.inbox()).items.find((m) => m.id === sent.id)?.message).toBeUndefined();
  });

  it("DM to a replaced session: after a renewal it is still read with the kept key until that session is revoked, then by nobody", async () => {
    const bobKeystore = join(mkdtempSync(join(tmpdir(), "sesame-dm-renew-")), "ks.json");
    const alice = testClient(node.url);
    const bob = testClient(node.url, { store: new FileSessionStore(bobKeystore, "bob") });
    await alice.manager.start(DM);
    const a = await bob.manager.start(DM);
    const toA = await alice.social.sendDm(bob.address, "sent while A was bob's only session");
    if (toA.status !== "accepted") throw new Error("not accepted");

    const b = await bob.manager.renew();
    expect(bob.prompts()).toBe(2);
    // A is still live on the node, so alice's next message goes to A and B alike.
    const toBoth = await alice.social.sendDm(bob.address, "sent after the renewal");
    if (toBoth.status !== "accepted") throw new Error("not accepted");
    const both = dmBodyOf(await storedDm(bob, toBoth.id)).copies.map((c) => c.key);
    expect(both).toEqual(expect.arrayContaining([a.grant.encryptionKey, b.grant.encryptionKey]));

    const before = await bob.social.inbox();
    expect(before.items.find((m) => m.id === toA.id)?.message?.text).toBe(
      "sent while A was bob's only session",
    );
    expect(before.items.find((m) => m.id === toBoth.id)?.message?.text).toBe(
      "sent after the renewal",
    );
    // After a reload (a new client on the same keystore file) too.
    const reloaded = testClient(node.url, {
      store: new FileSessionStore(bobKeystore, "bob"),
      wallet: { path: bob.walletPath, address: bob.address },
    });
    expect((await reloaded.social.inbox()).items.find((m) => m.id === toA.id)?.message?.text).toBe(
      "sent while A was bob's only session",
    );

    // A ends (revoked, one prompt): its keys die with it, here and in the file.
    await bob.manager.revoke(a.grantId);
    expect(await bob.store.loadKeys(a.record.keyId)).toBeUndefined();
    const file = JSON.parse(readFileSync(bobKeystore, "utf8")) as { keys: Record<string, unknown> };
    expect(Object.keys(file.keys)).toEqual([b.record.keyId]);
    const after = await bob.social.inbox();
    expect(after.items.find((m) => m.id === toA.id)?.message).toBeUndefined();
    // The message sent to both is still read, with B's key.
    expect(after.items.find((m) => m.id === toBoth.id)?.message?.text).toBe(
      "sent after the renewal",
    );
    expect(await decryptDm(alice.address, dmBodyOf(await storedDm(bob, toA.id)), b.keys)).toBe(
      undefined,
    );
  });

  it("DM to a replaced session: readable until that session expires, then its key is destroyed", async () => {
    let now = Date.now();
    const alice = testClient(node.url);
    const bob = testClient(node.url, { clock: () => now });
    await alice.manager.start(DM);
    const a = await bob.manager.start(policy(["dm"], {}, 3_600_000));
    const toA = await alice.social.sendDm(bob.address, "only A can read this one");
    if (toA.status !== "accepted") throw new Error("not accepted");
    try {
      now += 30 * 60_000;
      node.offset = 30 * 60_000;
      const b = await bob.manager.renew();
      expect((await bob.social.inbox()).items.find((m) => m.id === toA.id)?.message?.text).toBe(
        "only A can read this one",
      );
      // A's hour is over; B (started half an hour later) is still live.
      now = a.grant.expirationTime + 1_000;
      node.offset = now - Date.now();
      const inbox = await bob.social.inbox();
      expect(inbox.items.find((m) => m.id === toA.id)?.message).toBeUndefined();
      expect(await bob.store.loadKeys(a.record.keyId)).toBeUndefined();
      expect((await bob.store.getRecord(b.slot))?.retired).toEqual([]);
      expect(await bob.store.loadKeys(b.record.keyId)).toBeDefined();
    } finally {
      node.offset = 0;
    }
  });

  it("DM to a session that expired: its keys are destroyed at expiry, so its copy can be read by no one", async () => {
    let now = Date.now();
    const alice = testClient(node.url);
    const bob = testClient(node.url, { clock: () => now });
    await alice.manager.start(DM);
    const b = await bob.manager.start(policy(["dm"], {}, 3_600_000));
    const sent = await alice.social.sendDm(bob.address, "for this session only");
    if (sent.status !== "accepted") throw new Error("not accepted");
    const copy = dmBodyOf(await storedDm(bob, sent.id)).copies.find(
      (c) => c.key === b.keys.encryptionKey,
    );
    expect(copy).toBeDefined();
    expect(await decryptDm(alice.address, dmBodyOf(await storedDm(bob, sent.id)), b.keys)).toEqual({
      text: "for this session only",
    });
    // A signed action still queued keeps the keys through the nodes' late grace...
    await bob.store.enqueue(b.slot, { payload: { queued: true }, signature: "x" } as never);
    now = b.grant.expirationTime + 1_000;
    expect((await bob.manager.status()).state).toBe("expired");
    expect(await bob.store.loadKeys(b.record.keyId)).toBeDefined();
    await bob.store.dequeue(b.slot, "x");
    // ...and with nothing left to send, the expired session's keys are gone.
    expect((await bob.manager.status()).state).toBe("expired");
    expect(await bob.store.loadKeys(b.record.keyId)).toBeUndefined();
    expect(await bob.manager.readingKeys()).toEqual([]);
    // Renewing needs only the grant: one prompt, the same permissions, new keys.
    now = Date.now();
    const renewed = await bob.manager.renew();
    expect(renewed.grant.scopes).toEqual(b.grant.scopes);
    expect(renewed.keys.encryptionKey).not.toBe(b.keys.encryptionKey);
  });

  it("DM ephemeral secrets are wiped after encryption, so the sender keeps no way to decrypt", async () => {
    const handed: Uint8Array[] = [];
    const random = (n: number) => {
      const b = globalThis.crypto.getRandomValues(new Uint8Array(n));
      handed.push(b);
      return b;
    };
    const recipient = new MemorySessionStore();
    const { keys } = await recipient.generateKeys();
    const body = encryptDm(
      newWalletFile().address,
      newWalletFile().address,
      { text: "x" },
      [keys.encryptionKey],
      random,
    );
    const secrets = handed.filter((b) => b.length === 32);
    expect(secrets.length).toBe(body.copies.length);
    for (const s of secrets) expect(s.every((b) => b === 0)).toBe(true);
  });

  it("DM copies are bound to sender, recipient and message id: tampering with to, messageId or the sender fails to decrypt", async () => {
    const store = new MemorySessionStore();
    const { keys } = await store.generateKeys();
    const from = newWalletFile().address;
    const to = newWalletFile().address;
    const body = encryptDm(from, to, { text: "bound" }, [keys.encryptionKey]);
    expect((await decryptDm(from, body, keys))?.text).toBe("bound");

    const otherMessageId = toBase58(
      fromBase58(body.messageId, "id").map((b, i) => (i === 0 ? b ^ 1 : b)),
    );
    const ciphertext = body.copies[0]?.ciphertext ?? "";
    const flipped = `${ciphertext.slice(0, 10)}${ciphertext[10] === "A" ? "B" : "A"}${ciphertext.slice(11)}`;
    const tampered: [string, WalletAddress, DmBody][] = [
      ["to", from, { ...body, to: newWalletFile().address }],
      ["messageId", from, { ...body, messageId: otherMessageId }],
      ["sender", newWalletFile().address, body],
      [
        "ciphertext",
        from,
        { ...body, copies: body.copies.map((c) => ({ ...c, ciphertext: flipped })) },
      ],
      [
        "ephemeral key",
        from,
        {
          ...body,
          copies: body.copies.map((c) => ({
            ...c,
            ephemeral: keys.encryptionKey as unknown as string,
          })),
        },
      ],
    ];
    for (const [what, sender, t] of tampered) {
      await expect(decryptDm(sender, t, keys), what).rejects.toThrow();
    }
    // A small-order recipient key is refused rather than encrypted to.
    expect(() =>
      encryptDm(from, to, { text: "x" }, [toBase58(new Uint8Array(32)) as EncryptionPublicKey]),
    ).toThrow();
  });
});

describe.each<TestEngine>(["postgres", "pglite"])("DM storage on %s", (engine) => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ engine });
  });
  afterAll(async () => node.close());

  it(`DM database dump: every row of every table on ${engine} holds no plaintext of the messages`, async () => {
    const alice = testClient(node.url);
    const bob = testClient(node.url);
    await alice.manager.start(DM);
    await bob.manager.start(DM);
    const secrets = [
      "the vault code is 7391-alpha-kestrel",
      "meet me under the clock tower at nine",
    ];
    await alice.social.sendDm(bob.address, secrets[0] as string);
    await bob.social.sendDm(alice.address, secrets[1] as string);
    // Public posts are stored in clear, as the control that the dump sees text at all.
    await alice.social.post("a public post, readable by design");
    expect((await bob.social.inbox()).items.map((m) => m.message?.text)).toEqual([
      secrets[1],
      secrets[0],
    ]);

    const dump = await dumpDatabase(node.node);
    expect(dump.tables).toEqual(expect.arrayContaining(["actions", "grants", "sessions"]));
    expect(dump.text).toContain("a public post, readable by design");
    for (const secret of secrets) {
      const bytes = new TextEncoder().encode(secret);
      for (const form of [
        secret,
        ...secret.split(" ").filter((w) => w.length >= 5), // any distinctive word
        // every substring of 6 characters (shorter ones occur by chance in base64)
        ...Array.from({ length: secret.length - 5 }, (_, i) => secret.slice(i, i + 6)),
        Buffer.from(bytes).toString("base64"),
        Buffer.from(bytes).toString("base64url"),
        Buffer.from(bytes).toString("hex"),
        toBase58(bytes),
      ]) {
        expect(dump.text.includes(form), `${form} in the ${engine} dump`).toBe(false);
      }
    }
  });
});
