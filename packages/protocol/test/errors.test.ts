import { describe, expect, it } from "vitest";
import {
  describeValue,
  ERROR_TABLE,
  ErrorCode,
  errorName,
  httpStatus,
  isErrorCode,
  isProtocolError,
  ProtocolError,
  protocolError,
} from "../src/errors.js";
import { err, ok } from "../src/result.js";

const entries = Object.entries(ErrorCode) as [keyof typeof ErrorCode, ErrorCode][];
const codes = entries.map(([, code]) => code);

/** A context that fills every placeholder of a template with a recognisable value. */
function contextFor(template: string): Record<string, string> {
  const context: Record<string, string> = {};
  for (const [, key] of template.matchAll(/\{(\w+)\}/g)) context[key as string] = `<${key}>`;
  return context;
}

describe("the error table", () => {
  it("has an entry for every code and no entry for anything else", () => {
    const tableCodes = Object.keys(ERROR_TABLE).map(Number).sort();
    expect(tableCodes).toEqual([...codes].sort());
  });

  it("has unique names and unique codes", () => {
    expect(new Set(entries.map(([name]) => name)).size).toBe(entries.length);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("keeps codes inside their areas 1xxx..8xxx, named in upper snake case", () => {
    for (const [name, code] of entries) {
      expect(code).toBeGreaterThanOrEqual(1001);
      expect(code).toBeLessThanOrEqual(8999);
      expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
    }
  });

  it("pins a few codes clients already switch on", () => {
    expect(ErrorCode.INVALID_BASE58).toBe(1004);
    expect(ErrorCode.INVALID_LENGTH).toBe(1008);
    expect(ErrorCode.BAD_SIGNATURE).toBe(2001);
    expect(ErrorCode.GRANT_TEXT_MALFORMED).toBe(3001);
    expect(ErrorCode.OVER_CAP).toBe(4002);
    expect(ErrorCode.EQUIVOCATION_PROOF_INVALID).toBe(5003);
    expect(ErrorCode.UNAUTHORIZED_REQUEST).toBe(6005);
    expect(ErrorCode.CHAIN_ERROR).toBe(7004);
  });

  it("maps every code to an HTTP error status from the table", () => {
    for (const code of codes) {
      const status = httpStatus(code);
      expect(status).toBe(ERROR_TABLE[code].status);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
    expect(httpStatus(ErrorCode.OVER_RATE)).toBe(429);
    expect(httpStatus(ErrorCode.GRANT_UNKNOWN)).toBe(404);
    expect(httpStatus(ErrorCode.EQUIVOCATION)).toBe(409);
    expect(httpStatus(ErrorCode.PAYLOAD_TOO_LARGE)).toBe(413);
    expect(httpStatus(ErrorCode.INTERNAL)).toBe(500);
    expect(httpStatus(ErrorCode.UNAVAILABLE)).toBe(503);
  });

  it("renders every template completely when every placeholder has a value", () => {
    for (const code of codes) {
      const template = ERROR_TABLE[code].message;
      const e = new ProtocolError(code, contextFor(template) as never);
      expect(e.message).not.toMatch(/\{\w+\}/);
      for (const key of Object.keys(contextFor(template))) expect(e.message).toContain(`<${key}>`);
    }
  });
});

describe("errorName and isErrorCode", () => {
  it("name every code by its key in ErrorCode", () => {
    for (const [name, code] of entries) {
      expect(errorName(code)).toBe(name);
      expect(isErrorCode(code)).toBe(true);
    }
  });

  it("refuse what is not a code", () => {
    expect(() => errorName(9999 as ErrorCode)).toThrow(RangeError);
    expect(isErrorCode(9999)).toBe(false);
    expect(isErrorCode("1001")).toBe(false);
    expect(isErrorCode(null)).toBe(false);
    expect(isErrorCode(1001.5)).toBe(false);
  });
});

describe("ProtocolError", () => {
  it("renders its message from the template and the context", () => {
    const e = new ProtocolError(ErrorCode.FIELD_TOO_LARGE, {
      field: "payload.body.text",
      max: 1024,
      actual: 1025,
    });
    expect(e.message).toBe("Field payload.body.text is too large: 1025 bytes, at most 1024");
    expect(e.name).toBe("FIELD_TOO_LARGE");
    expect(e.code).toBe(1003);
    expect(e.status).toBe(400);
    expect(e).toBeInstanceOf(Error);
  });

  it("leaves a placeholder whose value is missing as it is", () => {
    const e = new ProtocolError(ErrorCode.INVALID_FIELD, { field: "x" } as never);
    expect(e.message).toBe("Field x is invalid: {reason}");
  });

  it("renders numbers and strings of the context, including falsy ones", () => {
    const e = new ProtocolError(ErrorCode.SESSION_REVOKED, { grantId: "g", revokedAt: 0 });
    expect(e.message).toBe("Session g was revoked at 0");
  });

  it("keeps a frozen copy of its context", () => {
    const context = { field: "a", reason: "b" };
    const e = new ProtocolError(ErrorCode.INVALID_FIELD, context);
    context.reason = "changed";
    expect(e.context).toEqual({ field: "a", reason: "b" });
    expect(Object.isFrozen(e.context)).toBe(true);
  });

  it("serialises to {code, name, message, context}", () => {
    const e = protocolError(ErrorCode.OVER_CAP, { scope: "post", cap: 50, ordinal: 51 });
    const json = e.toJSON();
    expect(Object.keys(json)).toEqual(["code", "name", "message", "context"]);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      code: 4002,
      name: "OVER_CAP",
      message: "Over the post cap: ordinal 51 is above 50",
      context: { scope: "post", cap: 50, ordinal: 51 },
    });
  });

  it("is recognised by isProtocolError, optionally by code", () => {
    const e = protocolError(ErrorCode.NOT_FOUND, { what: "grant" });
    expect(isProtocolError(e)).toBe(true);
    expect(isProtocolError(e, ErrorCode.NOT_FOUND)).toBe(true);
    expect(isProtocolError(e, ErrorCode.INTERNAL)).toBe(false);
    expect(isProtocolError(new Error("x"))).toBe(false);
    expect(isProtocolError({ code: 6001, message: "x" })).toBe(false);
    expect(isProtocolError(undefined)).toBe(false);
  });
});

/** Values a JSON body can carry whose own methods make `String()` throw or lie. */
const HOSTILE: readonly unknown[] = [
  { toString: 1 },
  { valueOf: 1 },
  { toString: 1, valueOf: 1 },
  { toString: {}, valueOf: [] },
  JSON.parse('{"__proto__": {"toString": 1}}'),
  Object.create(null),
  [{ toString: 1 }],
];

describe("describeValue", () => {
  it("describes hostile objects by their type without calling their methods", () => {
    expect(() => String({ toString: 1 })).toThrow(TypeError);
    for (const value of HOSTILE) {
      expect(describeValue(value)).toMatch(/^an (object|array of length \d+)$/);
    }
  });

  it("gives primitives as String() does and cuts long strings to max with an ellipsis", () => {
    expect([1, 2.5, true, null, undefined, 10n].map((v) => describeValue(v))).toEqual([
      "1",
      "2.5",
      "true",
      "null",
      "undefined",
      "10n",
    ]);
    expect(describeValue(Symbol("s"))).toBe("a symbol");
    expect(describeValue("kind")).toBe("kind");
    expect(describeValue("x".repeat(100), 32)).toBe(`${"x".repeat(31)}…`);
  });

  it("lets a ProtocolError be built and rendered from a hostile context value", () => {
    for (const value of HOSTILE) {
      const e = new ProtocolError(ErrorCode.INVALID_FIELD, {
        field: value as string,
        reason: value as string,
      });
      expect(e.message).toMatch(/^Field an (object|array of length \d+) is invalid/);
      expect(() => JSON.stringify(e.toJSON())).not.toThrow();
    }
  });
});

describe("Result", () => {
  it("ok and err build frozen results", () => {
    const a = ok(1);
    const b = err("no");
    expect(a).toEqual({ ok: true, value: 1 });
    expect(b).toEqual({ ok: false, error: "no" });
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(b)).toBe(true);
  });
});
