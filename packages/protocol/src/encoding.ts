import { base58, base64urlnopad, hex } from "@scure/base";
import canonicalizeJson from "canonicalize";
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

export function utf8Length(text: string): number {
  return encoder.encode(text).length;
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

/**
 * RFC 8785 (JSON Canonicalization Scheme) of a JSON value. Signed payloads hold only
 * strings, safe integers, booleans, arrays and objects, so JCS's number rules never
 * meet a fraction.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalizeJson(value);
  if (text === undefined) throw new TypeError("value has no JSON form");
  return text;
}
