import type { Ed25519Backend } from "./types.js";

/**
 * Ed25519 through WebCrypto (`crypto.subtle`): browsers and Node alike. Imported keys
 * are cached per public key.
 */
export function webEd25519(
  subtle: SubtleCrypto = globalThis.crypto.subtle,
  cacheSize = 4096,
): Ed25519Backend {
  const cache = new Map<string, Promise<CryptoKey>>();
  const keyFor = (publicKey: Uint8Array): Promise<CryptoKey> => {
    let id = "";
    for (const b of publicKey) id += String.fromCharCode(b);
    let key = cache.get(id);
    if (key === undefined) {
      key = subtle.importKey(
        "raw",
        publicKey as Uint8Array<ArrayBuffer>,
        { name: "Ed25519" },
        false,
        ["verify"],
      );
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(id, key);
    }
    return key;
  };
  return Object.freeze({
    name: "WebCrypto",
    async verify(
      publicKey: Uint8Array,
      message: Uint8Array,
      signature: Uint8Array,
    ): Promise<boolean> {
      try {
        const key = await keyFor(publicKey);
        return await subtle.verify(
          { name: "Ed25519" },
          key,
          signature as Uint8Array<ArrayBuffer>,
          message as Uint8Array<ArrayBuffer>,
        );
      } catch {
        return false;
      }
    },
  });
}
