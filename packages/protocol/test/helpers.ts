/**
 * Shared test helpers: exact error-code assertions, valid payloads of every action kind,
 * verified grants from the deterministic fixtures, and real Solana transactions that
 * carry a grant in a Memo.
 */
import { base64 } from "@scure/base";
import {
  AccountRole,
  type Address,
  appendTransactionMessageInstructions,
  type Blockhash,
  compileTransaction,
  createTransactionMessage,
  getTransactionEncoder,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type Transaction,
} from "@solana/kit";
import fc from "fast-check";
import { expect } from "vitest";
import {
  type GrantFixture,
  makeGrant,
  TEST_CONTEXT,
  type TestKey,
  testKey,
} from "../scripts/fixtures.js";
import { nodeEd25519 } from "../src/crypto/node-crypto.js";
import {
  type ActionId,
  type ActionKind,
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  type Ed25519Backend,
  type ErrorCode,
  isProtocolError,
  type ProtocolError,
  type Signature,
  toBase58,
  utf8,
  type VerifiedAction,
  type VerifiedGrant,
  verifyGrant,
  type WalletAddress,
} from "../src/index.js";

// Property tests run the same cases on every run and machine. Set FC_SEED to explore others;
// a failure prints its seed and path for replay.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20_261_126) });

/** Runs `fn` and returns the ProtocolError it throws; fails the test if it throws nothing. */
export function errorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    if (isProtocolError(e)) return e;
    throw e;
  }
  throw new Error("expected a ProtocolError, but nothing was thrown");
}

export async function errorOfAsync(fn: () => Promise<unknown>): Promise<ProtocolError> {
  try {
    await fn();
  } catch (e) {
    if (isProtocolError(e)) return e;
    throw e;
  }
  throw new Error("expected a ProtocolError, but nothing was thrown");
}

/** Asserts that `fn` throws a ProtocolError with exactly this code; returns it. */
export function expectCode(fn: () => unknown, code: ErrorCode): ProtocolError {
  const e = errorOf(fn);
  expect(e.code).toBe(code);
  return e;
}

export async function expectCodeAsync(
  fn: () => Promise<unknown>,
  code: ErrorCode,
): Promise<ProtocolError> {
  const e = await errorOfAsync(fn);
  expect(e.code).toBe(code);
  return e;
}

/** base58 of `n` bytes derived from a label (not a key; just well-formed). */
export function b58(label: string, n = 32): string {
  const out = new Uint8Array(n);
  const seed = utf8(label);
  for (let i = 0; i < n; i++) out[i] = ((seed[i % seed.length] ?? 0) * 31 + i * 7 + 1) & 0xff;
  return toBase58(out);
}

export const SOME_ACTION_ID = b58("some action") as ActionId;
export const OTHER_WALLET = testKey("bob").address as WalletAddress;

/** A valid body for each kind. */
export function bodyOf(kind: ActionKind): Record<string, unknown> {
  switch (kind) {
    case "post":
      return { text: "hello", links: ["https://example.com/a"], mentions: [OTHER_WALLET] };
    case "reply":
      return { parent: SOME_ACTION_ID, text: "hi back", links: [], mentions: [] };
    case "react":
    case "unreact":
      return { target: SOME_ACTION_ID, reaction: "❤️" };
    case "follow":
    case "unfollow":
      return { target: OTHER_WALLET };
    case "profile":
      return { displayName: "Alice", bio: "Hello there", avatarUrl: "https://example.com/a.png" };
    case "dm":
      return {
        to: OTHER_WALLET,
        messageId: b58("message id", 16),
        copies: [
          { key: b58("bob x25519"), ephemeral: b58("ephemeral 1"), ciphertext: "AAECAwQF_-8" },
          { key: b58("alice x25519"), ephemeral: b58("ephemeral 2"), ciphertext: "AAECAwQF" },
        ],
      };
    case "tip":
      return {
        post: SOME_ACTION_ID,
        to: OTHER_WALLET,
        mint: testKey("mint").address,
        amount: "250000",
        transaction: b58("tip transaction", 64),
      };
  }
}

export interface PayloadInput {
  readonly kind?: ActionKind;
  readonly grant?: string;
  readonly seq?: number;
  readonly ord?: number;
  readonly ts?: number;
  readonly body?: Record<string, unknown>;
}

/** A valid payload of `kind` (default post), overridable field by field. */
export function payloadOf(input: PayloadInput = {}, grant: string = SOME_ACTION_ID): ActionPayload {
  const kind = input.kind ?? "post";
  return {
    v: 1,
    kind,
    grant: input.grant ?? grant,
    seq: input.seq ?? 1,
    ord: input.ord ?? 1,
    ts: input.ts ?? Date.UTC(2026, 10, 26, 12, 0, 1),
    body: input.body ?? bodyOf(kind),
  } as unknown as ActionPayload;
}

/** A plain, mutable copy of a payload for building invalid variants. */
export function raw(payload: ActionPayload): Record<string, unknown> & {
  body: Record<string, unknown>;
} {
  return JSON.parse(JSON.stringify(payload));
}

export const backend: Ed25519Backend = nodeEd25519();

export interface SessionFixture extends GrantFixture {
  readonly verified: VerifiedGrant;
}

/** A grant from the fixtures, verified in its message form. */
export async function verifiedGrant(
  walletLabel = "alice",
  sessionLabel = "alice-session-1",
  overrides: Record<string, unknown> = {},
): Promise<SessionFixture> {
  const f = makeGrant(walletLabel, sessionLabel, overrides);
  const verified = await verifyGrant(
    { text: f.text, signature: f.signature },
    TEST_CONTEXT,
    backend,
  );
  return { ...f, verified };
}

/**
 * A VerifiedAction built directly from a payload, as `verifyAction` would return it.
 * The policy engine only reads the payload and id, so its tests need no signatures.
 */
export function verifiedAction(payload: ActionPayload): VerifiedAction {
  const bytes = actionSigningBytes(payload);
  return Object.freeze({
    id: actionIdOf(payload),
    payload,
    signature: toBase58(new Uint8Array(64)) as Signature,
    bytes,
  });
}

// --- Solana transactions carrying a grant in a Memo ---------------------------------

export const MEMO_V3 = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
export const MEMO_V1 = "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo";
const SYSTEM_PROGRAM = "11111111111111111111111111111111";

export interface GrantTransactionOptions {
  /** Memo instruction data, one instruction each (strings are UTF-8). */
  readonly memos: readonly (string | Uint8Array)[];
  readonly feePayer: TestKey;
  /** Who signs the message bytes for the fee payer; default the fee payer. */
  readonly signer?: TestKey | null;
  readonly version?: "legacy" | 0 | 1;
  readonly memoProgram?: string;
  /** A second signer (e.g. the wallet when it is not the fee payer). */
  readonly cosigner?: TestKey;
}

/** A real Solana transaction (wire bytes, base64) with one Memo instruction per memo. */
export function grantTransaction(options: GrantTransactionOptions): string {
  const program = (options.memoProgram ?? MEMO_V3) as Address;
  const instructions = options.memos.map((m) => ({
    programAddress: program,
    data: typeof m === "string" ? utf8(m) : m,
    ...(options.cosigner !== undefined
      ? {
          accounts: [
            { address: options.cosigner.address as Address, role: AccountRole.READONLY_SIGNER },
          ],
        }
      : {}),
  }));
  // A harmless System Program instruction keeps the transaction realistic.
  const transfer = { programAddress: SYSTEM_PROGRAM as Address, data: new Uint8Array(0) };
  const message = appendTransactionMessageInstructions(
    [transfer, ...instructions],
    setTransactionMessageLifetimeUsingBlockhash(
      { blockhash: testKey("blockhash").address as Blockhash, lastValidBlockHeight: 100n },
      setTransactionMessageFeePayer(
        options.feePayer.address as Address,
        createTransactionMessage({ version: options.version ?? 0 }),
      ),
    ),
  );
  const tx = compileTransaction(message);
  const messageBytes = Uint8Array.from(tx.messageBytes);
  const signatures: Record<string, Uint8Array | null> = { ...tx.signatures };
  const signer = options.signer === undefined ? options.feePayer : options.signer;
  signatures[options.feePayer.address] = signer === null ? null : signer.sign(messageBytes);
  if (options.cosigner !== undefined) {
    signatures[options.cosigner.address] = options.cosigner.sign(messageBytes);
  }
  const wire = getTransactionEncoder().encode({
    ...tx,
    signatures,
  } as unknown as Transaction);
  return base64.encode(Uint8Array.from(wire));
}
