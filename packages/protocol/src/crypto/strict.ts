import { fromHex, toBase58 } from "../encoding.js";
import { ErrorCode, ProtocolError } from "../errors.js";
import type { Ed25519Backend } from "./types.js";

/**
 * The pinned verification rule (RFC 8032 §5.1.7, cofactorless, strict):
 *  1. signature is 64 bytes, public key 32 bytes;
 *  2. S (signature bytes 32..63, little-endian) < L, the group order;
 *  3. the public key is not one of the small-order points, in any encoding
 *     (compared with the sign bit cleared, as libsodium does);
 *  4. the public key's y coordinate is canonical (< p);
 *  5. the cofactorless equation [S]B = R + [k]A holds, with R compared as encoded bytes,
 *     so a non-canonical R never verifies.
 * Steps 1-4 are here; step 5 is the backend's. Both shipped backends (node:crypto and
 * WebCrypto, i.e. OpenSSL/BoringSSL) perform step 5 cofactorless.
 */

// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

/** True when the 32 little-endian bytes at `offset` encode an integer below L. */
export function isCanonicalScalar(sig: Uint8Array, offset = 32): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = sig[offset + i] as number;
    const b = L_LE[i] as number;
    if (a < b) return true;
    if (a > b) return false;
  }
  return false; // equal to L
}

function filled(first: number, fill: number, last: number): Uint8Array {
  const out = new Uint8Array(32).fill(fill);
  out[0] = first;
  out[31] = last;
  return out;
}

/**
 * Both small-order lists have one shape: the encodings of 0 and 1, two order-8 points
 * (given in hex), p - 1, and the non-canonical p and p + 1 (0 and 1 again).
 */
function smallOrderList(order8: readonly [string, string]): readonly Uint8Array[] {
  return Object.freeze([
    filled(0x00, 0x00, 0x00),
    filled(0x01, 0x00, 0x00),
    fromHex(order8[0]),
    fromHex(order8[1]),
    filled(0xec, 0xff, 0x7f),
    filled(0xed, 0xff, 0x7f),
    filled(0xee, 0xff, 0x7f),
  ]);
}

/**
 * Ed25519 encodings (sign bit cleared) whose point has order 1, 2, 4 or 8: the canonical
 * encodings of the eight torsion points (y = 0: order 4; y = 1: the identity; two y of
 * order 8; y = p - 1: order 2) and the non-canonical y = p, p + 1 forms.
 * A test derives the torsion points with @noble/curves and checks this list.
 */
export const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = smallOrderList([
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
]);

/**
 * X25519 public keys (u-coordinates, bit 255 cleared: RFC 7748 ignores it) of small
 * order on the curve or its twist: u = 0 (order 2), 1 (order 4), the two u of the
 * order-8 points, p - 1 (order 4 on the twist), and the non-canonical p, p + 1. Any
 * scalar times one of them gives a shared secret the other side cannot influence (0 or
 * one of a handful), so an encryption key or DM ephemeral key among them is refused.
 * The libsodium list; a test derives the order-8 u from the Ed25519 torsion points.
 */
export const X25519_SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = smallOrderList([
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
]);

/** True when `key` equals one of `list` with its bit 255 cleared. */
function inListIgnoringTopBit(key: Uint8Array, list: readonly Uint8Array[]): boolean {
  if (key.length !== 32) return false;
  outer: for (const bad of list) {
    for (let i = 0; i < 31; i++) if (key[i] !== bad[i]) continue outer;
    if (((key[31] as number) & 0x7f) === bad[31]) return true;
  }
  return false;
}

export function isSmallOrderEncoding(publicKey: Uint8Array): boolean {
  return inListIgnoringTopBit(publicKey, SMALL_ORDER_ENCODINGS);
}

/** True for an X25519 public key of small order, in any encoding (bit 255 ignored). */
export function isSmallOrderX25519(publicKey: Uint8Array): boolean {
  return inListIgnoringTopBit(publicKey, X25519_SMALL_ORDER_ENCODINGS);
}

/** y (the key with its sign bit cleared) is below p = 2^255 - 19. */
export function isCanonicalPointEncoding(publicKey: Uint8Array): boolean {
  if (((publicKey[31] as number) & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (publicKey[i] !== 0xff) return true;
  return (publicKey[0] as number) < 0xed;
}

/** Checks steps 1-4 of the rule; throws the matching ProtocolError. */
export function assertStrictInputs(
  publicKey: Uint8Array,
  signature: Uint8Array,
  signer: string,
): void {
  if (publicKey.length !== 32) {
    throw new ProtocolError(ErrorCode.INVALID_LENGTH, {
      field: "publicKey",
      expected: 32,
      actual: publicKey.length,
    });
  }
  if (signature.length !== 64) {
    throw new ProtocolError(ErrorCode.INVALID_LENGTH, {
      field: "signature",
      expected: 64,
      actual: signature.length,
    });
  }
  if (!isCanonicalScalar(signature)) {
    throw new ProtocolError(ErrorCode.NON_CANONICAL_SIGNATURE, { signer });
  }
  if (isSmallOrderEncoding(publicKey)) {
    throw new ProtocolError(ErrorCode.SMALL_ORDER_PUBLIC_KEY, { publicKey: toBase58(publicKey) });
  }
  if (!isCanonicalPointEncoding(publicKey)) {
    throw new ProtocolError(ErrorCode.NON_CANONICAL_PUBLIC_KEY, { publicKey: toBase58(publicKey) });
  }
}

/**
 * Verifies under the pinned rule with a synchronous backend; throws a ProtocolError when
 * the signature is refused.
 */
export function verifyEd25519StrictSync(
  verifySync: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  signer: string,
): void {
  assertStrictInputs(publicKey, signature, signer);
  if (!verifySync(publicKey, message, signature)) {
    throw new ProtocolError(ErrorCode.BAD_SIGNATURE, { signer });
  }
}

/** Verifies under the pinned rule; throws a ProtocolError when the signature is refused. */
export async function verifyEd25519Strict(
  backend: Ed25519Backend,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  signer: string,
): Promise<void> {
  assertStrictInputs(publicKey, signature, signer);
  const valid =
    backend.verifySync !== undefined
      ? backend.verifySync(publicKey, message, signature)
      : await backend.verify(publicKey, message, signature);
  if (!valid) {
    throw new ProtocolError(ErrorCode.BAD_SIGNATURE, { signer });
  }
}
