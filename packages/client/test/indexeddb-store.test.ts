import "fake-indexeddb/auto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { fromBase58, utf8 } from "@sesame/protocol";
import { openDB } from "idb";
import { describe, expect, it } from "vitest";
import { IndexedDbSessionStore, type SessionRecord } from "../src/index.js";

const RECORD: SessionRecord = {
  keyId: "k",
  grantId: "g" as SessionRecord["grantId"],
  wallet: "w",
  text: "t",
  signature: "s",
  transaction: null,
  expirationTime: 0,
  nextSeq: 1,
  nextOrd: {},
  outbox: [],
};

/** What IndexedDB itself holds, read around the store (as any script of the origin could). */
async function rawKeys(name: string) {
  const db = await openDB(name, 1);
  try {
    return (await db.getAll("keys")) as {
      keyId: string;
      signKey: CryptoKey;
      dhKey: CryptoKey;
      sessionKey: string;
      encryptionKey: string;
    }[];
  } finally {
    db.close();
  }
}

describe("IndexedDbSessionStore (WebCrypto keys in IndexedDB, here fake-indexeddb)", () => {
  it("keeps session keys as CryptoKeys generated non-extractable: extractable is false and exportKey is refused", async () => {
    const name = `idb-${Math.random()}`;
    const store = new IndexedDbSessionStore(name);
    const { keyId } = await store.generateKeys();
    const [stored] = await rawKeys(name);
    expect(stored?.keyId).toBe(keyId);
    for (const key of [stored?.signKey, stored?.dhKey]) {
      expect(key).toBeInstanceOf(CryptoKey);
      expect(key?.type).toBe("private");
      expect(key?.extractable).toBe(false);
      for (const format of ["pkcs8", "jwk", "raw"] as const) {
        await expect(crypto.subtle.exportKey(format, key as CryptoKey)).rejects.toThrow();
      }
      // Nor can it be wrapped out under a key the attacker holds.
      const wrapper = await crypto.subtle.generateKey({ name: "AES-KW", length: 256 }, true, [
        "wrapKey",
      ]);
      await expect(
        crypto.subtle.wrapKey("pkcs8", key as CryptoKey, wrapper, "AES-KW"),
      ).rejects.toThrow();
    }
    expect(stored?.signKey.usages).toEqual(["sign"]);
    expect(stored?.dhKey.usages).toEqual(["deriveBits"]);
  });

  it("survives a reload: a new store object on the same database signs with the same key", async () => {
    const name = `idb-${Math.random()}`;
    const { keyId, keys } = await new IndexedDbSessionStore(name).generateKeys();
    const reloaded = await new IndexedDbSessionStore(name).loadKeys(keyId);
    expect(reloaded?.sessionKey).toBe(keys.sessionKey);
    const message = utf8("signed after a reload");
    const signature = (await reloaded?.sign(message)) as Uint8Array;
    expect(ed25519.verify(signature, message, fromBase58(keys.sessionKey, "key"))).toBe(true);
  });

  it("destroyKeys deletes the CryptoKeys", async () => {
    const name = `idb-${Math.random()}`;
    const store = new IndexedDbSessionStore(name);
    const { keyId } = await store.generateKeys();
    await store.destroyKeys(keyId);
    expect(await store.loadKeys(keyId)).toBeUndefined();
    expect(await rawKeys(name)).toEqual([]);
  });

  it("reserves counters in one transaction each: 50 concurrent reservations take 50 distinct numbers", async () => {
    const store = new IndexedDbSessionStore(`idb-${Math.random()}`);
    await store.putRecord("slot", RECORD);
    const taken = await Promise.all(
      Array.from({ length: 50 }, () => store.reserve("slot", "post")),
    );
    expect(new Set(taken.map((t) => t.seq)).size).toBe(50);
    expect(new Set(taken.map((t) => t.ord)).size).toBe(50);
    expect((await store.getRecord("slot"))?.nextSeq).toBe(51);
  });
});
