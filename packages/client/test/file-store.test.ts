import { spawnSync } from "node:child_process";
import { randomBytes, scryptSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { fromBase58, toBase58, utf8 } from "@sesame/protocol";
import { describe, expect, it } from "vitest";
import type { SessionRecord } from "../src/index.js";
import { FileSessionStore, KeystorePassphraseError } from "../src/node.js";
import { ROOT, runTs } from "./helpers.js";

const PASSPHRASE = "a long and correct passphrase";

function keystorePath(): string {
  return join(mkdtempSync(join(tmpdir(), "sesame-fs-")), "nested", "keystore.json");
}

interface RawFile {
  kdf: { salt: string; N: number; r: number; p: number };
  keys: Record<string, { sealed: string; sessionKey: string; encryptionKey: string }>;
  records: Record<string, SessionRecord>;
}

/** Opens the sealed secrets the way an attacker who knows the passphrase would. */
function unseal(path: string, keyId: string, passphrase: string): Uint8Array {
  const file = JSON.parse(readFileSync(path, "utf8")) as RawFile;
  const key = scryptSync(passphrase, Buffer.from(file.kdf.salt, "base64"), 32, {
    N: file.kdf.N,
    r: file.kdf.r,
    p: file.kdf.p,
    maxmem: 256 * 1024 * 1024,
  });
  const raw = Buffer.from(file.keys[keyId]?.sealed ?? "", "base64");
  return xchacha20poly1305(new Uint8Array(key), raw.subarray(0, 24), utf8(keyId)).decrypt(
    raw.subarray(24),
  );
}

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

describe("FileSessionStore (encrypted keystore file)", () => {
  it("creates the file with mode 0600 in a 0700 directory, and keeps 0600 across rewrites", async () => {
    const path = keystorePath();
    const store = new FileSessionStore(path, PASSPHRASE);
    await store.generateKeys();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, "..")).mode & 0o777).toBe(0o700);
    await store.putRecord("slot", RECORD);
    await store.reserve("slot", "post");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("refuses a wrong passphrase, and never seals a new key under it", async () => {
    const path = keystorePath();
    const { keyId } = await new FileSessionStore(path, PASSPHRASE).generateKeys();
    const before = readFileSync(path, "utf8");
    const wrong = new FileSessionStore(path, "not the passphrase");
    await expect(wrong.loadKeys(keyId)).rejects.toBeInstanceOf(KeystorePassphraseError);
    await expect(wrong.generateKeys()).rejects.toBeInstanceOf(KeystorePassphraseError);
    expect(readFileSync(path, "utf8")).toBe(before);
    // Even when every key was destroyed, the passphrase check still refuses.
    const right = new FileSessionStore(path, PASSPHRASE);
    await right.destroyKeys(keyId);
    await expect(
      new FileSessionStore(path, "not the passphrase").generateKeys(),
    ).rejects.toBeInstanceOf(KeystorePassphraseError);
    expect(() => new FileSessionStore(path, "")).toThrow(/non-empty/);
    // The right one still works.
    const again = await right.generateKeys();
    expect(await new FileSessionStore(path, PASSPHRASE).loadKeys(again.keyId)).toBeDefined();
  });

  it("asks for a lazy passphrase only when a key is sealed or opened", async () => {
    const path = keystorePath();
    let asked = 0;
    const store = new FileSessionStore(path, () => {
      asked++;
      return PASSPHRASE;
    });
    await store.putRecord("slot", RECORD);
    await store.reserve("slot", "post");
    expect(await store.listSlots()).toEqual(["slot"]);
    expect(asked).toBe(0);
    const { keyId } = await store.generateKeys();
    await store.loadKeys(keyId);
    expect(asked).toBe(1);
  });

  it("holds no raw key material: no seed or X25519 secret in hex, base64, base58 or as bytes", async () => {
    const path = keystorePath();
    const store = new FileSessionStore(path, PASSPHRASE);
    const { keyId, keys } = await store.generateKeys();
    const secret = unseal(path, keyId, PASSPHRASE);
    const seed = secret.slice(0, 32);
    const dh = secret.slice(32, 64);
    // They are the session's real secrets.
    expect(toBase58(ed25519.getPublicKey(seed))).toBe(keys.sessionKey);
    expect(toBase58(x25519.getPublicKey(dh))).toBe(keys.encryptionKey);
    const message = utf8("proof");
    expect(
      ed25519.verify(await keys.sign(message), message, fromBase58(keys.sessionKey, "k")),
    ).toBe(true);

    const text = readFileSync(path, "utf8");
    const solanaKeypair = new Uint8Array([...seed, ...ed25519.getPublicKey(seed)]);
    for (const s of [seed, dh, secret, solanaKeypair]) {
      const b = Buffer.from(s);
      for (const form of [
        b.toString("hex"),
        b.toString("base64"),
        b.toString("base64url"),
        toBase58(s),
        JSON.stringify([...s]).slice(1, -1),
        b.toString("hex").slice(0, 16), // even a fragment
      ]) {
        expect(text.includes(form), form).toBe(false);
      }
    }
    expect(text).toContain(keys.sessionKey); // public halves only
  });

  it("concurrent processes do not lose updates: 4 processes × 25 reservations take 100 distinct numbers", async () => {
    const path = keystorePath();
    const store = new FileSessionStore(path, PASSPHRASE);
    await store.putRecord("slot", RECORD);
    const script = join(ROOT, "packages/client/test/fixtures/reserve-child.ts");
    const children = [0, 1, 2, 3].map(() => runTs(script, [path, PASSPHRASE, "slot", "25"]));
    const taken = (await Promise.all(children.map((c) => c.line("TAKEN ")))).flatMap(
      (l) => JSON.parse(l.slice(6)) as { seq: number; ord: number }[],
    );
    expect(taken.length).toBe(100);
    expect(new Set(taken.map((t) => t.seq)).size).toBe(100);
    expect(Math.min(...taken.map((t) => t.seq))).toBe(1);
    expect(Math.max(...taken.map((t) => t.seq))).toBe(100);
    const record = await store.getRecord("slot");
    expect(record?.nextSeq).toBe(101);
    // Each process alternates post, react, post...: 13 posts and 12 reactions each.
    expect(record?.nextOrd).toEqual({ post: 53, react: 49 });
  });

  it("breaks a lock left by a process that was killed while holding it", async () => {
    const path = keystorePath();
    const store = new FileSessionStore(path, PASSPHRASE);
    await store.putRecord("slot", RECORD);
    // A pid that existed and is gone.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    }).stdout;
    writeFileSync(`${path}.lock`, dead);
    const started = Date.now();
    expect(await store.reserve("slot", "post")).toEqual({ seq: 1, ord: 1 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("destroyKeys removes the sealed key from the file for good", async () => {
    const path = keystorePath();
    const store = new FileSessionStore(path, PASSPHRASE);
    const { keyId } = await store.generateKeys();
    const sealed = (JSON.parse(readFileSync(path, "utf8")) as RawFile).keys[keyId]?.sealed;
    expect(sealed).toBeDefined();
    await store.destroyKeys(keyId);
    expect(await store.loadKeys(keyId)).toBeUndefined();
    expect(readFileSync(path, "utf8")).not.toContain(sealed as string);
  });

  it("new keystores use scrypt N=2^17, r=8, p=1; a keystore made with the earlier N=2^15 still opens and keeps its parameters", async () => {
    const fresh = keystorePath();
    await new FileSessionStore(fresh, PASSPHRASE).generateKeys();
    expect((JSON.parse(readFileSync(fresh, "utf8")) as RawFile).kdf).toMatchObject({
      name: "scrypt",
      N: 131072,
      r: 8,
      p: 1,
    });

    // An older file, written as the previous release wrote it (N = 2^15).
    const old = keystorePath();
    mkdirSync(dirname(old), { recursive: true, mode: 0o700 });
    const salt = randomBytes(16);
    const key = new Uint8Array(
      scryptSync(PASSPHRASE, salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }),
    );
    const seal = (plaintext: Uint8Array, aad: Uint8Array) => {
      const nonce = randomBytes(24);
      return Buffer.concat([nonce, xchacha20poly1305(key, nonce, aad).encrypt(plaintext)]).toString(
        "base64",
      );
    };
    const seed = randomBytes(32);
    const dh = randomBytes(32);
    const sessionKey = toBase58(ed25519.getPublicKey(seed));
    writeFileSync(
      old,
      JSON.stringify({
        version: 1,
        kdf: { name: "scrypt", N: 32768, r: 8, p: 1, salt: salt.toString("base64") },
        check: seal(utf8("sesame keystore v1"), utf8("sesame/1/keystore-check")),
        keys: {
          [sessionKey]: {
            sessionKey,
            encryptionKey: toBase58(x25519.getPublicKey(dh)),
            sealed: seal(new Uint8Array([...seed, ...dh]), utf8(sessionKey)),
          },
        },
        records: {},
      }),
      { mode: 0o600 },
    );
    const store = new FileSessionStore(old, PASSPHRASE);
    const keys = await store.loadKeys(sessionKey);
    const message = utf8("signed with a key from an old keystore");
    expect(
      ed25519.verify(
        (await keys?.sign(message)) as Uint8Array,
        message,
        fromBase58(sessionKey, "sessionKey"),
      ),
    ).toBe(true);
    await store.generateKeys(); // rewrites the file
    const rewritten = JSON.parse(readFileSync(old, "utf8")) as RawFile;
    expect(rewritten.kdf.N).toBe(32768);
    expect(Object.keys(rewritten.keys).length).toBe(2);
    await expect(new FileSessionStore(old, "wrong").loadKeys(sessionKey)).rejects.toBeInstanceOf(
      KeystorePassphraseError,
    );
  });

  it("refuses KDF parameters a crafted file could use to exhaust memory", async () => {
    const path = keystorePath();
    const store = new FileSessionStore(path, PASSPHRASE);
    const { keyId } = await store.generateKeys();
    const file = JSON.parse(readFileSync(path, "utf8")) as RawFile;
    writeFileSync(path, JSON.stringify({ ...file, kdf: { ...file.kdf, N: 2 ** 24 } }));
    await expect(new FileSessionStore(path, PASSPHRASE).loadKeys(keyId)).rejects.toThrow(
      /KDF parameters/,
    );
  });
});
