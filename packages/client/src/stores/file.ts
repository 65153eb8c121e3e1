import { randomBytes, scryptSync } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { type EncryptionPublicKey, type SessionPublicKey, toBase58, utf8 } from "@sesame/protocol";
import { SesameClientError } from "../errors.js";
import {
  RecordOperationsStore,
  type SessionKeys,
  type SessionRecord,
  type SessionStore,
} from "../keys.js";

/**
 * scrypt cost for new keystores: 2^17 × 8 × 1, 128 MiB of memory per guess (the cost the
 * scrypt paper recommends for interactive logins; see docs/DECISIONS.md for the unlock
 * time measured here). Each file stores its own parameters, so keystores made with the
 * earlier 2^15 still open.
 */
export const KEYSTORE_KDF = Object.freeze({ name: "scrypt", N: 131072, r: 8, p: 1 });
const KDF = KEYSTORE_KDF;

/** Memory scrypt may use when opening a file (its parameters are read from the file). */
const KDF_MAXMEM = 256 * 1024 * 1024;

/** The parameters a keystore file may name: bounded so a crafted file cannot exhaust memory. */
function checkKdf(kdf: KeystoreFile["kdf"], path: string): void {
  const ok =
    kdf !== undefined &&
    kdf.name === "scrypt" &&
    Number.isSafeInteger(kdf.N) &&
    kdf.N >= 16384 &&
    (kdf.N & (kdf.N - 1)) === 0 &&
    kdf.r === 8 &&
    kdf.p === 1 &&
    128 * kdf.N * kdf.r <= KDF_MAXMEM / 2;
  if (!ok) throw new Error(`the keystore ${path} names KDF parameters this client does not accept`);
}

interface EncryptedKey {
  readonly sessionKey: string;
  readonly encryptionKey: string;
  /** base64 of nonce (24) || XChaCha20-Poly1305(seed (32) || x25519 secret (32)). */
  readonly sealed: string;
}

/** What the passphrase check seals: a wrong passphrase is refused before anything is written. */
const CHECK_PLAINTEXT = utf8("sesame keystore v1");
const CHECK_AAD = utf8("sesame/1/keystore-check");

interface KeystoreFile {
  readonly version: 1;
  readonly kdf: {
    readonly name: string;
    readonly N: number;
    readonly r: number;
    readonly p: number;
    readonly salt: string;
  };
  /** base64 of nonce (24) || XChaCha20-Poly1305(CHECK_PLAINTEXT); absent in older files. */
  readonly check?: string;
  readonly keys: Record<string, EncryptedKey>;
  readonly records: Record<string, SessionRecord>;
}

/**
 * The passphrase does not open this keystore (or the file was altered): a typed client
 * error an app switches on by `code` (or `reason`) `KEYSTORE_PASSPHRASE`.
 */
export class KeystorePassphraseError extends SesameClientError<"KEYSTORE_PASSPHRASE"> {
  readonly code = "KEYSTORE_PASSPHRASE";

  constructor(path: string) {
    super("KEYSTORE_PASSPHRASE", { path });
    this.name = "KeystorePassphraseError";
  }
}

/**
 * Removes a lock file whose holder is gone (a process killed inside the few milliseconds
 * it holds the lock). The holder's pid is in the file; it is re-read right before the
 * unlink so a fresh lock taken meanwhile by a live process is left alone.
 */
function breakStaleLock(lock: string): boolean {
  let holder: number;
  try {
    holder = Number(readFileSync(lock, "utf8"));
  } catch {
    return true; // gone already: try again at once
  }
  if (!Number.isSafeInteger(holder) || holder <= 0) {
    // Empty: a holder between its open and its write, unless that was long ago.
    try {
      if (Date.now() - statSync(lock).mtimeMs < 10_000) return false;
      unlinkSync(lock);
    } catch {
      // Gone already.
    }
    return true;
  }
  if (holder === process.pid) return false;
  try {
    process.kill(holder, 0);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") return false;
  }
  try {
    if (Number(readFileSync(lock, "utf8")) !== holder) return false;
    unlinkSync(lock);
  } catch {
    // Someone else broke it first.
  }
  return true;
}

function nodeKeys(seed: Uint8Array, dhSecret: Uint8Array): SessionKeys {
  return Object.freeze({
    sessionKey: toBase58(ed25519.getPublicKey(seed)) as SessionPublicKey,
    encryptionKey: toBase58(x25519.getPublicKey(dhSecret)) as EncryptionPublicKey,
    async sign(message: Uint8Array) {
      return ed25519.sign(message, seed);
    },
    async agree(publicKey: Uint8Array) {
      return x25519.getSharedSecret(dhSecret, publicKey);
    },
  });
}

/**
 * Session keys in an encrypted keystore file (mode 0600): each key's secrets sealed with
 * XChaCha20-Poly1305 under a key stretched from a passphrase with scrypt, bound to the
 * key's id. Every change is written to a temporary file, fsynced and renamed over the
 * old one, under a lock file, so a crash leaves either the old or the new file whole and
 * two processes never interleave their read-modify-write.
 */
export class FileSessionStore extends RecordOperationsStore implements SessionStore {
  /** Derived keys by salt: a keystore recreated elsewhere gets a new salt, hence a new key. */
  readonly #aead = new Map<string, Uint8Array>();
  readonly #passphrase: () => string;

  /**
   * `passphrase` may be a function: it is called once, the first time a key is sealed or
   * opened, so commands that only read records never ask for it.
   */
  constructor(
    readonly path: string,
    passphrase: string | (() => string),
  ) {
    super();
    if (typeof passphrase === "string") {
      if (passphrase.length === 0) throw new Error("the keystore needs a non-empty passphrase");
      this.#passphrase = () => passphrase;
    } else {
      let cached: string | undefined;
      this.#passphrase = () => {
        cached ??= passphrase();
        if (cached.length === 0) throw new Error("the keystore needs a non-empty passphrase");
        return cached;
      };
    }
  }

  #read(): KeystoreFile {
    try {
      return JSON.parse(readFileSync(this.path, "utf8")) as KeystoreFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      return {
        version: 1,
        kdf: { ...KDF, salt: randomBytes(16).toString("base64") },
        keys: {},
        records: {},
      };
    }
  }

  #write(file: KeystoreFile): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  /** Runs a read-modify-write under an exclusive lock file. */
  #locked<T>(change: (file: KeystoreFile) => { file?: KeystoreFile; result: T }): T {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const lock = `${this.path}.lock`;
    const deadline = Date.now() + 10_000;
    let fd: number | undefined;
    while (fd === undefined) {
      try {
        fd = openSync(lock, "wx", 0o600);
        writeSync(fd, String(process.pid));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        if (breakStaleLock(lock)) continue;
        if (Date.now() > deadline)
          throw new Error(`the keystore ${this.path} is locked by another process (${lock})`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
    try {
      const { file, result } = change(this.#read());
      if (file !== undefined) this.#write(file);
      return result;
    } finally {
      closeSync(fd);
      rmSync(lock, { force: true });
    }
  }

  /**
   * The AEAD key for this file, derived once per salt. It is checked against the file's
   * passphrase check (or, in files without one, an existing key) before it is used, so a
   * wrong passphrase can never seal new keys next to the old ones.
   */
  #key(file: KeystoreFile): Uint8Array {
    const cached = this.#aead.get(file.kdf.salt);
    if (cached !== undefined) return cached;
    checkKdf(file.kdf, this.path);
    const key = new Uint8Array(
      scryptSync(this.#passphrase(), Buffer.from(file.kdf.salt, "base64"), 32, {
        N: file.kdf.N,
        r: file.kdf.r,
        p: file.kdf.p,
        maxmem: KDF_MAXMEM,
      }),
    );
    const [someId, someKey] = Object.entries(file.keys)[0] ?? [];
    try {
      if (file.check !== undefined) {
        const raw = Buffer.from(file.check, "base64");
        xchacha20poly1305(key, raw.subarray(0, 24), CHECK_AAD).decrypt(raw.subarray(24));
      } else if (someId !== undefined && someKey !== undefined) {
        const raw = Buffer.from(someKey.sealed, "base64");
        xchacha20poly1305(key, raw.subarray(0, 24), utf8(someId)).decrypt(raw.subarray(24));
      }
    } catch {
      throw new KeystorePassphraseError(this.path);
    }
    this.#aead.set(file.kdf.salt, key);
    return key;
  }

  /** The file with a passphrase check sealed under `key`, if it has none yet. */
  #withCheck(file: KeystoreFile, key: Uint8Array): KeystoreFile {
    if (file.check !== undefined) return file;
    const nonce = randomBytes(24);
    const sealed = xchacha20poly1305(key, nonce, CHECK_AAD).encrypt(CHECK_PLAINTEXT);
    return { ...file, check: Buffer.concat([nonce, sealed]).toString("base64") };
  }

  async generateKeys(): Promise<{ keyId: string; keys: SessionKeys }> {
    const seed = randomBytes(32);
    const dh = randomBytes(32);
    const keys = nodeKeys(seed, dh);
    const keyId = keys.sessionKey;
    this.#locked((file) => {
      const key = this.#key(file);
      const nonce = randomBytes(24);
      const secret = new Uint8Array(64);
      secret.set(seed, 0);
      secret.set(dh, 32);
      const sealed = xchacha20poly1305(key, nonce, utf8(keyId)).encrypt(secret);
      secret.fill(0);
      const entry: EncryptedKey = {
        sessionKey: keys.sessionKey,
        encryptionKey: keys.encryptionKey,
        sealed: Buffer.concat([nonce, sealed]).toString("base64"),
      };
      const next = this.#withCheck(file, key);
      return { file: { ...next, keys: { ...next.keys, [keyId]: entry } }, result: undefined };
    });
    return { keyId, keys };
  }

  async loadKeys(keyId: string): Promise<SessionKeys | undefined> {
    const file = this.#read();
    const entry = file.keys[keyId];
    if (entry === undefined) return undefined;
    const raw = Buffer.from(entry.sealed, "base64");
    const key = this.#key(file);
    let secret: Uint8Array;
    try {
      secret = xchacha20poly1305(key, raw.subarray(0, 24), utf8(keyId)).decrypt(raw.subarray(24));
    } catch {
      throw new KeystorePassphraseError(this.path);
    }
    return nodeKeys(secret.slice(0, 32), secret.slice(32, 64));
  }

  async destroyKeys(keyId: string): Promise<void> {
    this.#locked((file) => {
      const { [keyId]: _gone, ...keys } = file.keys;
      return { file: { ...file, keys }, result: undefined };
    });
  }

  async getRecord(slot: string): Promise<SessionRecord | undefined> {
    return this.#read().records[slot];
  }

  async putRecord(slot: string, record: SessionRecord): Promise<void> {
    this.#locked((file) => ({
      file: { ...file, records: { ...file.records, [slot]: record } },
      result: undefined,
    }));
  }

  async deleteRecord(slot: string): Promise<void> {
    this.#locked((file) => {
      const { [slot]: _gone, ...records } = file.records;
      return { file: { ...file, records }, result: undefined };
    });
  }

  async listSlots(): Promise<string[]> {
    return Object.keys(this.#read().records);
  }

  #update(slot: string, change: (r: SessionRecord) => SessionRecord): void {
    this.#locked((file) => {
      const current = file.records[slot];
      if (current === undefined) throw new Error(`no session record in slot ${slot}`);
      return {
        file: { ...file, records: { ...file.records, [slot]: change(current) } },
        result: undefined,
      };
    });
  }

  protected updateRecord(slot: string, change: (r: SessionRecord) => SessionRecord) {
    return this.#update(slot, change);
  }
}
