import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import type { Ed25519Backend } from "./types.js";

// DER SubjectPublicKeyInfo header for an Ed25519 key (RFC 8410); the raw 32 bytes follow.
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

function keyObject(publicKey: Uint8Array): KeyObject {
  const der = new Uint8Array(44);
  der.set(SPKI_PREFIX, 0);
  der.set(publicKey, 12);
  return createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
}

/**
 * Ed25519 through node:crypto (OpenSSL). Parsed keys are cached: a node verifies many
 * actions of the same session key, and parsing costs about as much as hashing.
 */
export function nodeEd25519(cacheSize = 4096): Ed25519Backend {
  const cache = new Map<string, KeyObject>();
  // Callers usually pass the same Uint8Array for a session (a verified grant's key bytes):
  // an identity lookup skips building the string key.
  const byArray = new WeakMap<Uint8Array, KeyObject>();
  const keyFor = (publicKey: Uint8Array): KeyObject => {
    const hit = byArray.get(publicKey);
    if (hit !== undefined) return hit;
    const id = Buffer.from(publicKey).toString("latin1");
    let key = cache.get(id);
    if (key === undefined) {
      key = keyObject(publicKey);
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(id, key);
    }
    byArray.set(publicKey, key);
    return key;
  };
  const verifySync = (
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): boolean => {
    try {
      return verify(null, message, keyFor(publicKey), signature);
    } catch {
      return false;
    }
  };
  return Object.freeze({
    name: "node:crypto",
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
      return Promise.resolve(verifySync(publicKey, message, signature));
    },
    verifySync,
    sha256: (data: Uint8Array) => createHash("sha256").update(data).digest(),
  });
}

/** Synchronous verification for hot loops that cannot afford a promise per call. */
export function nodeEd25519VerifySync(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return verify(null, message, keyObject(publicKey), signature);
  } catch {
    return false;
  }
}
