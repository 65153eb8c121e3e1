import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bytesEqual,
  concatBytes,
  fromBase58,
  fromBase58Fixed,
  fromBase64url,
  fromHex,
  fromUtf8,
  toBase58,
  toBase64url,
  toHex,
  utf8,
  utf8Length,
} from "../src/encoding.js";
import { ErrorCode } from "../src/errors.js";
import { expectCode } from "./helpers.js";

/** Any UTF-16 string, lone surrogates included. */
const utf16 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
  .map((units) => String.fromCharCode(...units));

describe("UTF-8", () => {
  it("utf8 and fromUtf8 round-trip well-formed text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(fromUtf8(utf8(text), "f")).toBe(text);
      }),
    );
  });

  it("utf8Length equals the length of the encoded bytes, lone surrogates included", () => {
    fc.assert(
      fc.property(fc.oneof(utf16, fc.string({ unit: "binary" })), (text) => {
        expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
      }),
      { numRuns: 500 },
    );
    expect(utf8Length("a€😀")).toBe(1 + 3 + 4);
    expect(utf8Length("\ud800")).toBe(3);
    expect(utf8Length("\ud800a")).toBe(4);
    expect(utf8Length("\udc00\ud800")).toBe(6);
  });

  it("fromUtf8 refuses invalid sequences with INVALID_FIELD (1002)", () => {
    for (const bytes of [[0xff], [0xc0, 0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80]]) {
      const e = expectCode(() => fromUtf8(Uint8Array.from(bytes), "memo"), ErrorCode.INVALID_FIELD);
      expect(e.context).toEqual({ field: "memo", reason: "not valid UTF-8" });
    }
  });
});

describe("base58", () => {
  it("round-trips any bytes, keeping leading zero bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
        expect([...fromBase58(toBase58(bytes), "f")]).toEqual([...bytes]);
      }),
    );
    expect(toBase58(Uint8Array.of(0, 0, 1))).toBe("112");
  });

  it("fromBase58 refuses characters outside the alphabet with 1004", () => {
    for (const text of ["0", "abcO", "I", "l1", "a b"]) {
      const e = expectCode(() => fromBase58(text, "nonce"), ErrorCode.INVALID_BASE58);
      expect(e.context).toEqual({ field: "nonce" });
    }
  });

  it("fromBase58Fixed accepts exactly the expected length", () => {
    const text = toBase58(new Uint8Array(64).fill(0xab));
    expect(fromBase58Fixed(text, 64, "signature")).toEqual(new Uint8Array(64).fill(0xab));
  });

  it("fromBase58Fixed refuses another length with 1008", () => {
    const e = expectCode(
      () => fromBase58Fixed(toBase58(new Uint8Array(63).fill(1)), 64, "signature"),
      ErrorCode.INVALID_LENGTH,
    );
    expect(e.context).toEqual({ field: "signature", expected: 64, actual: 63 });
  });

  it("fromBase58Fixed refuses non-strings, empty and overlong text before decoding, with 1004", () => {
    for (const text of [undefined, 7, "", "2".repeat(100), "0".repeat(10)]) {
      expectCode(() => fromBase58Fixed(text, 32, "key"), ErrorCode.INVALID_BASE58);
    }
  });
});

describe("base64url", () => {
  it("round-trips any bytes without padding", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = toBase64url(bytes);
        expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
        expect([...fromBase64url(text, "f")]).toEqual([...bytes]);
      }),
    );
  });

  it("refuses padding, the standard alphabet and impossible lengths with 1005", () => {
    for (const text of ["AAE=", "ab+/", "a", "AA AA", "AAECAw=="]) {
      const e = expectCode(() => fromBase64url(text, "ciphertext"), ErrorCode.INVALID_BASE64URL);
      expect(e.context).toEqual({ field: "ciphertext" });
    }
  });
});

describe("bytes", () => {
  it("hex round-trips", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect(fromHex(toHex(bytes))).toEqual(bytes);
      }),
    );
    expect(toHex(Uint8Array.of(0, 255, 16))).toBe("00ff10");
  });

  it("concatBytes joins in order", () => {
    expect([...concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))]).toEqual([
      1, 2, 3,
    ]);
    expect(concatBytes().length).toBe(0);
  });

  it("bytesEqual compares length and content", () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
    expect(bytesEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});
