import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, prefixedUtf8, utf8 } from "../src/encoding.js";
import { ErrorCode, isProtocolError } from "../src/errors.js";

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

  it("refuses fractions, unsafe integers and non-plain objects with 1002 naming the path", () => {
    const refusal = (value: unknown, field?: string) => {
      try {
        canonicalJson(value, field);
      } catch (e) {
        if (!isProtocolError(e, ErrorCode.INVALID_FIELD)) throw e;
        return e.context.field;
      }
      throw new Error(`accepted ${String(value)}`);
    };
    expect(refusal(1.5)).toBe("value");
    expect(refusal(2 ** 53)).toBe("value");
    expect(refusal(-(2 ** 53))).toBe("value");
    expect(refusal(Number.NaN)).toBe("value");
    expect(refusal(Number.POSITIVE_INFINITY)).toBe("value");
    expect(refusal(new Date(0))).toBe("value");
    expect(refusal(10n)).toBe("value");
    expect(refusal({ body: { links: ["a", 0.5] } }, "payload")).toBe("payload.body.links[1]");
    expect(refusal({ a: [{ b: [1, { c: 2 ** 60 }] }] })).toBe("value.a[0].b[1].c");
    expect(refusal([Symbol("s")])).toBe("value[0]");
  });

  it("on any JSON value, fractions included: the canonicalize package's bytes or a 1002", () => {
    const unsafe = (v: unknown): boolean =>
      typeof v === "number"
        ? !Number.isSafeInteger(v)
        : typeof v === "object" && v !== null && Object.values(v).some(unsafe);
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        if (unsafe(value)) {
          expect(() => canonicalJson(value)).toThrow(
            expect.objectContaining({ code: ErrorCode.INVALID_FIELD }),
          );
        } else expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 2000 },
    );
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
