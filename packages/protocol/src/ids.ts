import { base58 } from "@scure/base";
import { ErrorCode, ProtocolError } from "./errors.js";

/**
 * Branded strings: at run time plain base58 text, at compile time distinct types, so a
 * session key can never be passed where a wallet address is meant.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A wallet's Ed25519 public key: the person's identity (base58, 32 bytes). */
export type WalletAddress = Brand<string, "WalletAddress">;
/** A session's Ed25519 public key (base58, 32 bytes). */
export type SessionPublicKey = Brand<string, "SessionPublicKey">;
/** A session's X25519 public key for direct messages (base58, 32 bytes). */
export type EncryptionPublicKey = Brand<string, "EncryptionPublicKey">;
/** SHA-256 of a grant's signed text (base58, 32 bytes). */
export type GrantId = Brand<string, "GrantId">;
/** SHA-256 of an action's signed bytes (base58, 32 bytes). */
export type ActionId = Brand<string, "ActionId">;
/** An Ed25519 signature (base58, 64 bytes); also a Solana transaction signature. */
export type Signature = Brand<string, "Signature">;
/** An SPL-Token mint address (base58, 32 bytes). */
export type MintAddress = Brand<string, "MintAddress">;

// A base58 string of n bytes has at most ceil(n * log(256) / log(58)) characters.
const MAX_CHARS_32 = 44;
const MAX_CHARS_64 = 88;
const BASE58_ALPHABET = /^[1-9A-HJ-NP-Za-km-z]+$/;

function isBase58OfLength(value: unknown, bytes: number, maxChars: number): value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxChars) return false;
  if (!BASE58_ALPHABET.test(value)) return false;
  try {
    return base58.decode(value).length === bytes;
  } catch {
    return false;
  }
}

function makeGuards<T extends string>(bytes: number, maxChars: number, field: string) {
  const is = (value: unknown): value is T => isBase58OfLength(value, bytes, maxChars);
  const assert: (value: unknown, name?: string) => asserts value is T = (value, name = field) => {
    if (typeof value !== "string" || !BASE58_ALPHABET.test(value)) {
      throw new ProtocolError(ErrorCode.INVALID_BASE58, { field: name });
    }
    if (value.length > maxChars + 8) {
      // Decoding a long string is quadratic; its length already says it is too long.
      const atLeast = Math.floor((value.length - 1) * 0.732);
      throw new ProtocolError(ErrorCode.INVALID_LENGTH, {
        field: name,
        expected: bytes,
        actual: atLeast,
      });
    }
    if (!is(value)) {
      let actual = -1;
      try {
        actual = base58.decode(value).length;
      } catch {
        throw new ProtocolError(ErrorCode.INVALID_BASE58, { field: name });
      }
      throw new ProtocolError(ErrorCode.INVALID_LENGTH, { field: name, expected: bytes, actual });
    }
  };
  const make = (value: string): T => {
    assert(value);
    return value;
  };
  return { is, assert, make };
}

const wallet = makeGuards<WalletAddress>(32, MAX_CHARS_32, "wallet");
export const isWalletAddress = wallet.is;
export const assertWalletAddress: (v: unknown, field?: string) => asserts v is WalletAddress =
  wallet.assert;
export const walletAddress = wallet.make;

const sessionKey = makeGuards<SessionPublicKey>(32, MAX_CHARS_32, "sessionKey");
export const isSessionPublicKey = sessionKey.is;
export const assertSessionPublicKey: (v: unknown, field?: string) => asserts v is SessionPublicKey =
  sessionKey.assert;
export const sessionPublicKey = sessionKey.make;

const encryptionKey = makeGuards<EncryptionPublicKey>(32, MAX_CHARS_32, "encryptionKey");
export const isEncryptionPublicKey = encryptionKey.is;
export const assertEncryptionPublicKey: (
  v: unknown,
  field?: string,
) => asserts v is EncryptionPublicKey = encryptionKey.assert;
export const encryptionPublicKey = encryptionKey.make;

const grant = makeGuards<GrantId>(32, MAX_CHARS_32, "grantId");
export const isGrantId = grant.is;
export const assertGrantId: (v: unknown, field?: string) => asserts v is GrantId = grant.assert;
export const grantId = grant.make;

const action = makeGuards<ActionId>(32, MAX_CHARS_32, "actionId");
export const isActionId = action.is;
export const assertActionId: (v: unknown, field?: string) => asserts v is ActionId = action.assert;
export const actionId = action.make;

const sig = makeGuards<Signature>(64, MAX_CHARS_64, "signature");
export const isSignature = sig.is;
export const assertSignature: (v: unknown, field?: string) => asserts v is Signature = sig.assert;
export const signature = sig.make;

const mint = makeGuards<MintAddress>(32, MAX_CHARS_32, "mint");
export const isMintAddress = mint.is;
export const assertMintAddress: (v: unknown, field?: string) => asserts v is MintAddress =
  mint.assert;
export const mintAddress = mint.make;
