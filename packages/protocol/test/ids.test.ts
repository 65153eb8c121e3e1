import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toBase58 } from "../src/encoding.js";
import { ErrorCode } from "../src/errors.js";
import {
  actionId,
  assertActionId,
  assertEncryptionPublicKey,
  assertGrantId,
  assertMintAddress,
  assertSessionPublicKey,
  assertSignature,
  assertWalletAddress,
  encryptionPublicKey,
  grantId,
  isActionId,
  isEncryptionPublicKey,
  isGrantId,
  isMintAddress,
  isSessionPublicKey,
  isSignature,
  isWalletAddress,
  mintAddress,
  sessionPublicKey,
  signature,
  walletAddress,
} from "../src/ids.js";
import { expectCode } from "./helpers.js";

interface Guard {
  readonly name: string;
  readonly bytes: number;
  readonly field: string;
  readonly is: (v: unknown) => boolean;
  readonly assert: (v: unknown, field?: string) => void;
  readonly make: (v: string) => string;
}

const GUARDS: readonly Guard[] = [
  {
    name: "WalletAddress",
    bytes: 32,
    field: "wallet",
    is: isWalletAddress,
    assert: assertWalletAddress,
    make: walletAddress,
  },
  {
    name: "SessionPublicKey",
    bytes: 32,
    field: "sessionKey",
    is: isSessionPublicKey,
    assert: assertSessionPublicKey,
    make: sessionPublicKey,
  },
  {
    name: "EncryptionPublicKey",
    bytes: 32,
    field: "encryptionKey",
    is: isEncryptionPublicKey,
    assert: assertEncryptionPublicKey,
    make: encryptionPublicKey,
  },
  {
    name: "GrantId",
    bytes: 32,
    field: "grantId",
    is: isGrantId,
    assert: assertGrantId,
    make: grantId,
  },
  {
    name: "ActionId",
    bytes: 32,
    field: "actionId",
    is: isActionId,
    assert: assertActionId,
    make: actionId,
  },
  {
    name: "Signature",
    bytes: 64,
    field: "signature",
    is: isSignature,
    assert: assertSignature,
    make: signature,
  },
  {
    name: "MintAddress",
    bytes: 32,
    field: "mint",
    is: isMintAddress,
    assert: assertMintAddress,
    make: mintAddress,
  },
];

const ofLength = (n: number) => toBase58(new Uint8Array(n).map((_, i) => (i * 37 + 11) & 0xff));

describe.each(GUARDS)("$name", (g) => {
  it("accepts base58 of the right number of bytes", () => {
    const value = ofLength(g.bytes);
    expect(g.is(value)).toBe(true);
    expect(() => g.assert(value)).not.toThrow();
    expect(g.make(value)).toBe(value);
  });

  it("accepts all-zero bytes, written as leading 1s", () => {
    const value = "1".repeat(g.bytes);
    expect(g.is(value)).toBe(true);
    expect(g.make(value)).toBe(value);
  });

  it("accepts any bytes of the right length (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: g.bytes, maxLength: g.bytes }), (bytes) => {
        expect(g.is(toBase58(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a wrong number of bytes with INVALID_LENGTH (1008)", () => {
    for (const n of [g.bytes - 1, g.bytes + 1, 1]) {
      const value = ofLength(n);
      expect(g.is(value)).toBe(false);
      const e = expectCode(() => g.assert(value), ErrorCode.INVALID_LENGTH);
      expect(e.context).toEqual({ field: g.field, expected: g.bytes, actual: n });
    }
  });

  it("refuses a base58 string longer than any encoding of that size with 1008", () => {
    const value = "1".repeat(g.bytes + 1);
    expect(g.is(value)).toBe(false);
    expectCode(() => g.assert(value), ErrorCode.INVALID_LENGTH);
  });

  it("refuses a very long base58 string with 1008 without decoding it", () => {
    const value = "2".repeat(5000);
    expect(g.is(value)).toBe(false);
    const e = expectCode(() => g.assert(value), ErrorCode.INVALID_LENGTH);
    expect((e.context as { actual: number }).actual).toBeGreaterThan(g.bytes);
  });

  it("refuses characters outside the base58 alphabet with INVALID_BASE58 (1004)", () => {
    const good = ofLength(g.bytes);
    for (const bad of ["0", "O", "I", "l", "+", "/", " ", "é"]) {
      const value = bad + good.slice(1);
      expect(g.is(value)).toBe(false);
      expectCode(() => g.assert(value), ErrorCode.INVALID_BASE58);
    }
    expectCode(() => g.make(`${good} `), ErrorCode.INVALID_BASE58);
  });

  it("refuses non-strings and the empty string with 1004", () => {
    for (const value of ["", 42, null, undefined, {}, [ofLength(g.bytes)]]) {
      expect(g.is(value)).toBe(false);
      expectCode(() => g.assert(value), ErrorCode.INVALID_BASE58);
    }
  });

  it("names the field it was given in the error", () => {
    const e = expectCode(() => g.assert("0", "payload.body.target"), ErrorCode.INVALID_BASE58);
    expect(e.context).toEqual({ field: "payload.body.target" });
  });
});
