import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, prefixedUtf8, utf8 } from "../src/encoding.js";

// JSON values as signed payloads hold them: no fractions, no undefined.
const signedJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string({ unit: "binary" }),
    fc.string(),
    fc.maxSafeInteger(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: "binary" }), tie("value"), { maxKeys: 5 }),
  ),
})).value;

describe("canonicalJson (RFC 8785)", () => {
  it("matches the canonicalize package on arbitrary signed JSON values", () => {
    fc.assert(
      fc.property(signedJson, (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 2000 },
    );
  });

  it("sorts keys by UTF-16 code units and escapes as JSON.stringify does", () => {
    expect(canonicalJson({ b: 1, a: [true, null, "\u2028"], "\u00e9": "x", A: {} })).toBe(
      '{"A":{},"a":[true,null,"\u2028"],"b":1,"é":"x"}',
    );
  });

  it("refuses fractions, unsafe integers and non-plain objects", () => {
    expect(() => canonicalJson(1.5)).toThrow(TypeError);
    expect(() => canonicalJson(2 ** 53)).toThrow(TypeError);
    expect(() => canonicalJson(new Date(0))).toThrow(TypeError);
    expect(() => canonicalJson(10n)).toThrow(TypeError);
  });

  it("prefixedUtf8 equals prefix followed by the UTF-8 bytes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 8 }),
        fc.string({ unit: "grapheme" }),
        (prefix, text) => {
          expect([...prefixedUtf8(prefix, text)]).toEqual([...prefix, ...utf8(text)]);
        },
      ),
    );
  });
});
