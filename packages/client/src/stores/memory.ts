import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { type EncryptionPublicKey, type SessionPublicKey, toBase58 } from "@sesame/protocol";
import {
  RecordOperationsStore,
  type SessionKeys,
  type SessionRecord,
  type SessionStore,
} from "../keys.js";

/**
 * Session keys and records in this process's memory only: for throwaway sessions
 * (benchmarks, seeding, tests). Nothing survives the process, so nothing can leak later.
 */
export class MemorySessionStore extends RecordOperationsStore implements SessionStore {
  readonly #keys = new Map<string, { seed: Uint8Array; dh: Uint8Array }>();
  readonly #records = new Map<string, SessionRecord>();

  #wrap(seed: Uint8Array, dh: Uint8Array): SessionKeys {
    return Object.freeze({
      sessionKey: toBase58(ed25519.getPublicKey(seed)) as SessionPublicKey,
      encryptionKey: toBase58(x25519.getPublicKey(dh)) as EncryptionPublicKey,
      sign: async (message: Uint8Array) => ed25519.sign(message, seed),
      agree: async (publicKey: Uint8Array) => x25519.getSharedSecret(dh, publicKey),
    });
  }

  async generateKeys(): Promise<{ keyId: string; keys: SessionKeys }> {
    const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const dh = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const keys = this.#wrap(seed, dh);
    this.#keys.set(keys.sessionKey, { seed, dh });
    return { keyId: keys.sessionKey, keys };
  }

  async loadKeys(keyId: string): Promise<SessionKeys | undefined> {
    const k = this.#keys.get(keyId);
    return k === undefined ? undefined : this.#wrap(k.seed, k.dh);
  }

  async destroyKeys(keyId: string): Promise<void> {
    const k = this.#keys.get(keyId);
    k?.seed.fill(0);
    k?.dh.fill(0);
    this.#keys.delete(keyId);
  }

  async getRecord(slot: string): Promise<SessionRecord | undefined> {
    return this.#records.get(slot);
  }

  async putRecord(slot: string, record: SessionRecord): Promise<void> {
    this.#records.set(slot, record);
  }

  async deleteRecord(slot: string): Promise<void> {
    this.#records.delete(slot);
  }

  async listSlots(): Promise<string[]> {
    return [...this.#records.keys()];
  }

  #update(slot: string, change: (r: SessionRecord) => SessionRecord): void {
    const current = this.#records.get(slot);
    if (current === undefined) throw new Error(`no session record in slot ${slot}`);
    this.#records.set(slot, change(current));
  }

  protected updateRecord(slot: string, change: (r: SessionRecord) => SessionRecord) {
    return this.#update(slot, change);
  }
}
