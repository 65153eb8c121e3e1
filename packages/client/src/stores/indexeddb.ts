import { type EncryptionPublicKey, type SessionPublicKey, toBase58 } from "@sesame/protocol";
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import {
  RecordOperationsStore,
  type SessionKeys,
  type SessionRecord,
  type SessionStore,
} from "../keys.js";

interface StoredKeys {
  readonly keyId: string;
  readonly signKey: CryptoKey;
  readonly dhKey: CryptoKey;
  readonly sessionKey: SessionPublicKey;
  readonly encryptionKey: EncryptionPublicKey;
}

interface SesameDb extends DBSchema {
  keys: { key: string; value: StoredKeys };
  records: { key: string; value: SessionRecord & { slot: string } };
}

function wrap(stored: StoredKeys, subtle: SubtleCrypto): SessionKeys {
  return Object.freeze({
    sessionKey: stored.sessionKey,
    encryptionKey: stored.encryptionKey,
    async sign(message: Uint8Array) {
      return new Uint8Array(
        await subtle.sign({ name: "Ed25519" }, stored.signKey, message as Uint8Array<ArrayBuffer>),
      );
    },
    async agree(publicKey: Uint8Array) {
      const peer = await subtle.importKey(
        "raw",
        publicKey as Uint8Array<ArrayBuffer>,
        { name: "X25519" },
        true,
        [],
      );
      return new Uint8Array(
        await subtle.deriveBits({ name: "X25519", public: peer }, stored.dhKey, 256),
      );
    },
  });
}

/**
 * Session keys as WebCrypto keys generated non-extractable and kept as CryptoKey objects
 * in IndexedDB: the private halves never exist as bytes in JavaScript, survive reloads,
 * and can only be used through this origin's sign / deriveBits calls.
 */
export class IndexedDbSessionStore extends RecordOperationsStore implements SessionStore {
  readonly #db: Promise<IDBPDatabase<SesameDb>>;

  constructor(
    name = "sesame",
    private readonly subtle: SubtleCrypto = globalThis.crypto.subtle,
    indexedDB?: IDBFactory,
  ) {
    super();
    const factory = indexedDB;
    if (factory !== undefined) (globalThis as { indexedDB?: IDBFactory }).indexedDB ??= factory;
    this.#db = openDB<SesameDb>(name, 1, {
      upgrade(db) {
        db.createObjectStore("keys", { keyPath: "keyId" });
        db.createObjectStore("records", { keyPath: "slot" });
      },
    });
  }

  async generateKeys(): Promise<{ keyId: string; keys: SessionKeys }> {
    const sign = (await this.subtle.generateKey({ name: "Ed25519" }, false, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const dh = (await this.subtle.generateKey({ name: "X25519" }, false, [
      "deriveBits",
    ])) as CryptoKeyPair;
    const sessionKey = toBase58(
      new Uint8Array(await this.subtle.exportKey("raw", sign.publicKey)),
    ) as SessionPublicKey;
    const encryptionKey = toBase58(
      new Uint8Array(await this.subtle.exportKey("raw", dh.publicKey)),
    ) as EncryptionPublicKey;
    const stored: StoredKeys = {
      keyId: sessionKey,
      signKey: sign.privateKey,
      dhKey: dh.privateKey,
      sessionKey,
      encryptionKey,
    };
    await (await this.#db).put("keys", stored);
    return { keyId: stored.keyId, keys: wrap(stored, this.subtle) };
  }

  async loadKeys(keyId: string): Promise<SessionKeys | undefined> {
    const stored = await (await this.#db).get("keys", keyId);
    return stored === undefined ? undefined : wrap(stored, this.subtle);
  }

  async destroyKeys(keyId: string): Promise<void> {
    await (await this.#db).delete("keys", keyId);
  }

  async getRecord(slot: string): Promise<SessionRecord | undefined> {
    const r = await (await this.#db).get("records", slot);
    if (r === undefined) return undefined;
    const { slot: _slot, ...record } = r;
    return record;
  }

  async putRecord(slot: string, record: SessionRecord): Promise<void> {
    await (await this.#db).put("records", { ...record, slot });
  }

  async deleteRecord(slot: string): Promise<void> {
    await (await this.#db).delete("records", slot);
  }

  async listSlots(): Promise<string[]> {
    return await (await this.#db).getAllKeys("records");
  }

  /** Read-modify-write in one IndexedDB transaction; resolves after it commits. */
  async #update(slot: string, change: (r: SessionRecord) => SessionRecord): Promise<SessionRecord> {
    // "strict": the counter is on disk before anything is signed with it (Chromium's
    // default "relaxed" durability could roll it back on a crash and reuse a number).
    const tx = (await this.#db).transaction("records", "readwrite", { durability: "strict" });
    const current = await tx.store.get(slot);
    if (current === undefined) {
      tx.abort();
      throw new Error(`no session record in slot ${slot}`);
    }
    const next = { ...change(current), slot };
    await tx.store.put(next);
    await tx.done;
    return next;
  }

  protected updateRecord(slot: string, change: (r: SessionRecord) => SessionRecord) {
    return this.#update(slot, change);
  }
}
