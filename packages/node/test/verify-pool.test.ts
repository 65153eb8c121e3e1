import { generateKeyPairSync, sign } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { VerifyPool } from "../src/verify-pool.js";

function rawPublicKey(key: ReturnType<typeof generateKeyPairSync>["publicKey"]): Uint8Array {
  return Uint8Array.from(Buffer.from(key.export({ format: "jwk" }).x as string, "base64url"));
}

describe("VerifyPool", () => {
  it("answers like node:crypto for valid, tampered and malformed inputs", async () => {
    const pool = new VerifyPool(2);
    try {
      const keys = Array.from({ length: 3 }, () => generateKeyPairSync("ed25519"));
      const items = Array.from({ length: 100 }, (_, i) => {
        const k = keys[i % keys.length] as (typeof keys)[number];
        const message = Buffer.from(`message ${i}`);
        return {
          publicKey: rawPublicKey(k.publicKey),
          message,
          signature: sign(null, message, k.privateKey),
        };
      });
      // All asked in one turn: they travel in a few messages, spread over both workers.
      const valid = await Promise.all(
        items.map((x) => pool.backend.verify(x.publicKey, x.message, x.signature)),
      );
      expect(valid.every(Boolean)).toBe(true);
      const first = items[0] as (typeof items)[number];
      const tampered = Uint8Array.from(first.signature);
      tampered[5] = (tampered[5] as number) ^ 1;
      expect(await pool.backend.verify(first.publicKey, first.message, tampered)).toBe(false);
      expect(
        await pool.backend.verify(first.publicKey, Buffer.from("other"), first.signature),
      ).toBe(false);
      expect(await pool.backend.verify(new Uint8Array(31), first.message, first.signature)).toBe(
        false,
      );
      expect(
        await pool.backend.verify(new Uint8Array(32).fill(0xff), first.message, first.signature),
      ).toBe(false);
    } finally {
      await pool.close();
    }
    await expect(
      pool.backend.verify(new Uint8Array(32), new Uint8Array(1), new Uint8Array(64)),
    ).rejects.toThrow(/closed/);
  });

  it("hashes action ids natively, byte for byte as the protocol's SHA-256", async () => {
    const pool = new VerifyPool(1);
    try {
      const digest = pool.backend.sha256;
      expect(digest).toBeDefined();
      for (const size of [0, 1, 55, 56, 64, 300, 4096]) {
        const data = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
        expect(Buffer.from(digest?.(data) ?? [])).toEqual(Buffer.from(sha256(data)));
      }
    } finally {
      await pool.close();
    }
  });
});
