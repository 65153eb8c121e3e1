import { base58, base64urlnopad, hex } from "@scure/base";
import { ErrorCode, ProtocolError } from "./errors.js";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, refusing invalid sequences instead of replacing them. */
export function fromUtf8(bytes: Uint8Array, field: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, { field, reason: "not valid UTF-8" });
  }
}

/** The UTF-8 length of a string without encoding it (a lone surrogate counts as U+FFFD). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export function toBase58(bytes: Uint8Array): string {
  return base58.encode(bytes);
}

export function fromBase58(text: string, field: string): Uint8Array {
  try {
    return base58.decode(text);
  } catch {
    throw new ProtocolError(ErrorCode.INVALID_BASE58, { field });
  }
}

/** base58 of exactly `length` bytes; the length check comes before the (quadratic) decode. */
export function fromBase58Fixed(text: unknown, length: number, field: string): Uint8Array {
  if (typeof text !== "string" || text.length === 0 || text.length > Math.ceil(length * 1.37) + 1) {
    throw new ProtocolError(ErrorCode.INVALID_BASE58, { field });
  }
  const bytes = fromBase58(text, field);
  if (bytes.length !== length) {
    throw new ProtocolError(ErrorCode.INVALID_LENGTH, {
      field,
      expected: length,
      actual: bytes.length,
    });
  }
  return bytes;
}

export function toBase64url(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes);
}

export function fromBase64url(text: string, field: string): Uint8Array {
  try {
    return base64urlnopad.decode(text);
  } catch {
    throw new ProtocolError(ErrorCode.INVALID_BASE64URL, { field });
  }
}

export function toHex(bytes: Uint8Array): string {
  return hex.encode(bytes);
}

export function fromHex(text: string): Uint8Array {
  return hex.decode(text);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Why a value has no canonical form, and where: keys are prepended as it unwinds. */
class NotCanonical {
  readonly path: (string | number)[] = [];
  constructor(readonly reason: string) {}
}

/**
 * RFC 8785 (JSON Canonicalization Scheme) of a JSON value: object keys sorted by UTF-16
 * code units, no whitespace, strings and numbers serialised as ECMAScript's
 * JSON.stringify does. Signed payloads hold only strings, safe integers, booleans, null,
 * arrays and plain objects, so JCS's number rules never meet a fraction; anything else
 * (a fraction, an unsafe integer, NaN, a non-plain object, a bigint) is refused with
 * `1002 INVALID_FIELD` naming its path under `field` (e.g. `payload.body.links[0]`)
 * rather than guessed at. This is on the ingest hot path, so it is a direct serialiser;
 * a property test checks it against the `canonicalize` package.
 */
export function canonicalJson(value: unknown, field = "value"): string {
  try {
    return canonical(value);
  } catch (e) {
    if (!(e instanceof NotCanonical)) throw e;
    let at = field;
    for (const key of e.path) at += typeof key === "number" ? `[${key}]` : `.${key}`;
    throw new ProtocolError(ErrorCode.INVALID_FIELD, { field: at, reason: e.reason });
  }
}

function canonical(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isSafeInteger(value)) {
        throw new NotCanonical(
          Number.isInteger(value)
            ? "an integer beyond 2^53 - 1 has no exact signed form"
            : "only integers are signed, not fractions, NaN or infinities",
        );
      }
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          try {
            out += (i === 0 ? "" : ",") + canonical(value[i]);
          } catch (e) {
            if (e instanceof NotCanonical) e.path.unshift(i);
            throw e;
          }
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null)
        throw new NotCanonical("only plain objects are signed");
      // Keys are compared by UTF-16 code units, which is what the default sort does.
      const keys = Object.keys(value).sort();
      let out = "{";
      let first = true;
      for (const key of keys) {
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) continue;
        try {
          out += `${first ? "" : ","}${JSON.stringify(key)}:${canonical(v)}`;
        } catch (e) {
          if (e instanceof NotCanonical) e.path.unshift(key);
          throw e;
        }
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new NotCanonical(`a ${typeof value} has no JSON form`);
  }
}

/** `prefix` followed by the UTF-8 of `text`, encoded in place (one allocation). */
export function prefixedUtf8(prefix: Uint8Array, text: string): Uint8Array {
  const out = new Uint8Array(prefix.length + text.length * 3);
  out.set(prefix, 0);
  const { written } = encoder.encodeInto(text, out.subarray(prefix.length));
  return out.slice(0, prefix.length + written);
}
