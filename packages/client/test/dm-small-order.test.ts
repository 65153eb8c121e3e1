/**
 * Small-order X25519 keys in direct messages: a shared secret computed with one is one of
 * a handful of values anyone can guess, so the client refuses to encrypt to such a key
 * and to open a copy whose ephemeral key is one, with 2003 SMALL_ORDER_PUBLIC_KEY.
 */
import {
  type EncryptionPublicKey,
  ErrorCode,
  isProtocolError,
  toBase58,
  type WalletAddress,
  X25519_SMALL_ORDER_ENCODINGS,
} from "@sesame/protocol";
import { describe, expect, it } from "vitest";
import { testKey } from "../../protocol/scripts/fixtures.js";
import { decryptDm, encryptDm, MemorySessionStore } from "../src/index.js";

const FROM = testKey("dm sender").address as WalletAddress;
const TO = testKey("dm recipient").address as WalletAddress;

/** Every small-order encoding, and each with bit 255 set (X25519 ignores it). */
const SMALL_ORDER = X25519_SMALL_ORDER_ENCODINGS.flatMap((entry) => {
  const high = Uint8Array.from(entry);
  high[31] = (high[31] as number) | 0x80;
  return [entry, high];
});

function expect2003(run: () => unknown, key: Uint8Array): void {
  try {
    run();
  } catch (e) {
    expect(isProtocolError(e, ErrorCode.SMALL_ORDER_PUBLIC_KEY), String(e)).toBe(true);
    expect((e as { context: unknown }).context).toEqual({ publicKey: toBase58(key) });
    return;
  }
  throw new Error(`encrypted to small-order key ${toBase58(key)}`);
}

describe("direct messages and small-order X25519 keys", () => {
  it("encryptDm refuses a small-order recipient key, alone or among good ones, with 2003", async () => {
    const { keys } = await new MemorySessionStore().generateKeys();
    for (const key of SMALL_ORDER) {
      const bad = toBase58(key) as EncryptionPublicKey;
      expect2003(() => encryptDm(FROM, TO, { text: "hi" }, [bad]), key);
      expect2003(() => encryptDm(FROM, TO, { text: "hi" }, [keys.encryptionKey, bad]), key);
    }
    // A good key still works.
    expect(encryptDm(FROM, TO, { text: "hi" }, [keys.encryptionKey]).copies).toHaveLength(1);
  });

  it("decryptDm refuses a copy whose ephemeral key is of small order with 2003", async () => {
    const { keys } = await new MemorySessionStore().generateKeys();
    const body = encryptDm(FROM, TO, { text: "hi" }, [keys.encryptionKey]);
    expect(await decryptDm(FROM, body, keys)).toEqual({ text: "hi" });
    for (const key of SMALL_ORDER) {
      const copy = { ...(body.copies[0] as (typeof body.copies)[0]), ephemeral: toBase58(key) };
      const forged = { ...body, copies: [copy] };
      await expect(decryptDm(FROM, forged, keys)).rejects.toSatisfy(
        (e) =>
          isProtocolError(e, ErrorCode.SMALL_ORDER_PUBLIC_KEY) &&
          (e.context as { publicKey: string }).publicKey === toBase58(key),
      );
    }
  });
});
