import { sha256 } from "@noble/hashes/sha2.js";
import { base64 } from "@scure/base";
import { getCompiledTransactionMessageDecoder } from "@solana/transaction-messages";
import { getTransactionDecoder } from "@solana/transactions";
import {
  ACTION_LIMITS,
  type ActionPayload,
  actionIdOfBytes,
  actionSigningBytes,
  decodeSignedActionWithBytes,
  SCOPE_OF_KIND,
  type SignedAction,
} from "./action.js";
import { verifyEd25519Strict, verifyEd25519StrictSync } from "./crypto/strict.js";
import type { Ed25519Backend } from "./crypto/types.js";
import { bytesEqual, fromBase58, fromUtf8, toBase58, utf8 } from "./encoding.js";
import { ErrorCode, ProtocolError } from "./errors.js";
import { GRANT_LIMITS, type Grant, parseGrantText } from "./grant.js";
import { type ActionId, assertSignature, type GrantId, type Signature } from "./ids.js";
import { parseRevocationText, type Revocation } from "./revocation.js";

/** Where this verifier lives: the chain and node network it accepts, and its limits. */
export interface VerifyContext {
  readonly chain: string;
  readonly network: string;
  /** When set, only grants for these app domains are accepted. */
  readonly domains?: readonly string[];
  /** Longest allowed expirationTime - notBefore. Default 30 days. */
  readonly maxLifetimeMs?: number;
  /** Memo program addresses accepted for grants carried in a transaction. */
  readonly memoPrograms?: readonly string[];
}

/** Memo v1 and v3: the two addresses every Solana cluster (and LiteSVM) ships. */
export const DEFAULT_MEMO_PROGRAMS = Object.freeze([
  "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo",
  "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
]);

/** The memo a transaction carries when the grant text itself does not fit. */
export const GRANT_MEMO_PREFIX = "sesame-grant:";

/** A grant signed as a message: the wallet's `signMessage` over the text's UTF-8. */
export interface SignedGrantMessage {
  readonly text: string;
  readonly signature: Signature;
}

/** A grant carried in the Memo of a Solana transaction the wallet signed (base64 wire bytes). */
export interface SignedGrantTransaction {
  readonly text: string;
  readonly transaction: string;
}

export type SignedGrant = SignedGrantMessage | SignedGrantTransaction;

/** A grant whose text and wallet signature have been checked. Frozen. */
export interface VerifiedGrant {
  readonly id: GrantId;
  readonly grant: Grant;
  readonly text: string;
  /** The wallet's signature: over the text, or over the transaction message. */
  readonly signature: Signature;
  readonly form: "message" | "transaction";
  readonly sessionKeyBytes: Uint8Array;
}

function checkGrantBinding(grant: Grant, ctx: VerifyContext): void {
  if (grant.chain !== ctx.chain) {
    throw new ProtocolError(ErrorCode.GRANT_CHAIN_MISMATCH, {
      expected: ctx.chain,
      actual: grant.chain,
    });
  }
  if (grant.network !== ctx.network) {
    throw new ProtocolError(ErrorCode.GRANT_NETWORK_MISMATCH, {
      expected: ctx.network,
      actual: grant.network,
    });
  }
  if (ctx.domains !== undefined && !ctx.domains.includes(grant.domain)) {
    throw new ProtocolError(ErrorCode.GRANT_DOMAIN_MISMATCH, {
      expected: ctx.domains.join(" or "),
      actual: grant.domain,
    });
  }
  const maxMs = ctx.maxLifetimeMs ?? GRANT_LIMITS.defaultMaxLifetimeMs;
  const lifetime = grant.expirationTime - grant.notBefore;
  if (lifetime > maxMs)
    throw new ProtocolError(ErrorCode.GRANT_LIFETIME_TOO_LONG, { maxMs, actualMs: lifetime });
}

function freezeGrant(
  grant: Grant,
  text: string,
  textBytes: Uint8Array,
  signature: Signature,
  form: "message" | "transaction",
): VerifiedGrant {
  return Object.freeze({
    id: toBase58(sha256(textBytes)) as GrantId,
    grant,
    text,
    signature,
    form,
    sessionKeyBytes: fromBase58(grant.sessionKey, "sessionKey"),
  });
}

/**
 * Rebuilds a VerifiedGrant from what a node stored after verifying it itself. Parses the
 * text again (so the structure is never taken on trust) but does not re-check the
 * signature: only for the verifier's own storage, never for input from elsewhere.
 */
export function restoreVerifiedGrant(stored: {
  readonly text: string;
  readonly signature: Signature;
  readonly form: "message" | "transaction";
}): VerifiedGrant {
  const grant = parseGrantText(stored.text);
  return freezeGrant(grant, stored.text, utf8(stored.text), stored.signature, stored.form);
}

/**
 * Verifies a grant: parses its text (canonical form only), checks its binding to this
 * chain, network and (optionally) app domains, and the wallet's signature. The signature
 * is checked last, so a cheap refusal never costs a verification.
 */
export async function verifyGrant(
  signed: SignedGrant,
  ctx: VerifyContext,
  backend: Ed25519Backend,
): Promise<VerifiedGrant> {
  if (typeof signed !== "object" || signed === null) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "grant",
      reason: "must be an object",
    });
  }
  const grant = parseGrantText(signed.text);
  checkGrantBinding(grant, ctx);
  const textBytes = utf8(signed.text);
  const wallet = fromBase58(grant.wallet, "wallet");
  if ("signature" in signed && typeof signed.signature === "string") {
    assertSignature(signed.signature, "signature");
    await verifyEd25519Strict(
      backend,
      wallet,
      textBytes,
      fromBase58(signed.signature, "signature"),
      grant.wallet,
    );
    return freezeGrant(grant, signed.text, textBytes, signed.signature, "message");
  }
  if ("transaction" in signed && typeof signed.transaction === "string") {
    const signature = await verifyGrantMemoTransaction(
      grant,
      signed.text,
      signed.transaction,
      ctx,
      backend,
    );
    return freezeGrant(grant, signed.text, textBytes, signature, "transaction");
  }
  throw new ProtocolError(ErrorCode.INVALID_FIELD, {
    field: "grant",
    reason: "needs either a signature or a transaction",
  });
}

const MAX_TRANSACTION_BYTES = 1232;

function memoMismatch(reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.GRANT_MEMO_MISMATCH, { reason });
}

/**
 * The transaction form: the wallet is the fee payer and first signer, its signature over
 * the message verifies, and exactly one Memo instruction carries either the grant text
 * or `sesame-grant:<grant id>`. Returns the wallet's signature (the transaction's id).
 */
async function verifyGrantMemoTransaction(
  grant: Grant,
  text: string,
  transactionBase64: string,
  ctx: VerifyContext,
  backend: Ed25519Backend,
): Promise<Signature> {
  if (transactionBase64.length > Math.ceil((MAX_TRANSACTION_BYTES * 4) / 3) + 4) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, {
      field: "transaction",
      max: MAX_TRANSACTION_BYTES,
      actual: Math.floor((transactionBase64.length * 3) / 4),
    });
  }
  let wire: Uint8Array;
  try {
    wire = base64.decode(transactionBase64);
  } catch {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "transaction",
      reason: "not base64",
    });
  }
  let tx: ReturnType<ReturnType<typeof getTransactionDecoder>["decode"]>;
  let message: ReturnType<ReturnType<typeof getCompiledTransactionMessageDecoder>["decode"]>;
  try {
    tx = getTransactionDecoder().decode(wire);
    message = getCompiledTransactionMessageDecoder().decode(tx.messageBytes);
  } catch {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "transaction",
      reason: "not a Solana transaction",
    });
  }
  if (message.version === 1) throw memoMismatch("only legacy and v0 transactions are accepted");
  if ((message.staticAccounts[0] as string | undefined) !== grant.wallet)
    throw memoMismatch("the wallet is not the fee payer");
  const sigBytes = tx.signatures[grant.wallet as unknown as keyof typeof tx.signatures];
  if (sigBytes === null || sigBytes === undefined)
    throw memoMismatch("the wallet did not sign the transaction");
  const memoPrograms = ctx.memoPrograms ?? DEFAULT_MEMO_PROGRAMS;
  const memos = message.instructions
    .filter((ix) => memoPrograms.includes(message.staticAccounts[ix.programAddressIndex] ?? ""))
    .map((ix) => ix.data ?? new Uint8Array());
  if (memos.length !== 1)
    throw memoMismatch(`expected one memo instruction, found ${memos.length}`);
  const memo = fromUtf8(Uint8Array.from(memos[0] as Uint8Array), "memo");
  const id = toBase58(sha256(utf8(text)));
  if (memo !== text && memo !== `${GRANT_MEMO_PREFIX}${id}`) {
    throw memoMismatch("the memo is neither the grant text nor its id");
  }
  const signature = Uint8Array.from(sigBytes);
  await verifyEd25519Strict(
    backend,
    fromBase58(grant.wallet, "wallet"),
    Uint8Array.from(tx.messageBytes),
    signature,
    grant.wallet,
  );
  return toBase58(signature) as Signature;
}

/** An action whose shape and session signature have been checked. Frozen. */
export interface VerifiedAction {
  readonly id: ActionId;
  readonly payload: ActionPayload;
  readonly signature: Signature;
  /** The exact signed bytes. */
  readonly bytes: Uint8Array;
}

/**
 * Stateless verification of an action against its grant: shape and sizes, the grant it
 * names, and the session key's signature. Everything that depends on the grant's terms
 * or the session's state (scope, window, caps, rates, duplicates, revocation) is
 * `applyAction`'s, so an equivocation proof can be built from any two signed actions.
 */
export async function verifyAction(
  input: unknown,
  grant: VerifiedGrant,
  backend: Ed25519Backend,
): Promise<VerifiedAction> {
  const { signed, signatureBytes } = decodeSignedActionWithBytes(input);
  const payload = signed.payload;
  if (payload.grant !== grant.id) {
    throw new ProtocolError(ErrorCode.WRONG_GRANT, { expected: grant.id, actual: payload.grant });
  }
  const bytes = actionSigningBytes(payload);
  if (bytes.length > ACTION_LIMITS.maxSignedBytes) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, {
      field: "action",
      max: ACTION_LIMITS.maxSignedBytes,
      actual: bytes.length,
    });
  }
  const signer = grant.grant.sessionKey;
  if (backend.verifySync !== undefined) {
    // No promise per action on the ingest hot path when the backend is synchronous.
    verifyEd25519StrictSync(
      backend.verifySync,
      grant.sessionKeyBytes,
      bytes,
      signatureBytes,
      signer,
    );
  } else {
    await verifyEd25519Strict(backend, grant.sessionKeyBytes, bytes, signatureBytes, signer);
  }
  const id =
    backend.sha256 !== undefined
      ? (toBase58(backend.sha256(bytes)) as ActionId)
      : actionIdOfBytes(bytes);
  return Object.freeze({ id, payload, signature: signed.signature, bytes });
}

/** The scope an action counts against. */
export function scopeOf(payload: ActionPayload) {
  return SCOPE_OF_KIND[payload.kind];
}

export interface SignedRevocation {
  readonly text: string;
  readonly signature: Signature;
}

export interface VerifiedRevocation {
  readonly id: string;
  readonly revocation: Revocation;
  readonly text: string;
  readonly signature: Signature;
}

/** Verifies a wallet-signed revocation for this node network. */
export async function verifyRevocation(
  signed: SignedRevocation,
  ctx: Pick<VerifyContext, "network">,
  backend: Ed25519Backend,
): Promise<VerifiedRevocation> {
  if (typeof signed !== "object" || signed === null) {
    throw new ProtocolError(ErrorCode.REVOCATION_MALFORMED, { reason: "must be an object" });
  }
  const revocation = parseRevocationText(signed.text);
  if (revocation.network !== ctx.network) {
    throw new ProtocolError(ErrorCode.GRANT_NETWORK_MISMATCH, {
      expected: ctx.network,
      actual: revocation.network,
    });
  }
  assertSignature(signed.signature, "signature");
  const bytes = utf8(signed.text);
  await verifyEd25519Strict(
    backend,
    fromBase58(revocation.wallet, "wallet"),
    bytes,
    fromBase58(signed.signature, "signature"),
    revocation.wallet,
  );
  return Object.freeze({
    id: toBase58(sha256(bytes)),
    revocation,
    text: signed.text,
    signature: signed.signature,
  });
}

/** Two validly signed actions of one session that reuse a sequence number or a scope ordinal. */
export interface EquivocationProof {
  readonly a: SignedAction;
  readonly b: SignedAction;
}

export interface VerifiedEquivocation {
  readonly grant: GrantId;
  readonly by: "sequence" | "ordinal";
  readonly a: VerifiedAction;
  readonly b: VerifiedAction;
}

/** Anyone holding the grant can check a proof: both verify, differ, and collide. */
export async function verifyEquivocation(
  proof: EquivocationProof,
  grant: VerifiedGrant,
  backend: Ed25519Backend,
): Promise<VerifiedEquivocation> {
  const fail = (reason: string) =>
    new ProtocolError(ErrorCode.EQUIVOCATION_PROOF_INVALID, { reason });
  if (typeof proof !== "object" || proof === null) throw fail("must be an object with a and b");
  let a: VerifiedAction;
  let b: VerifiedAction;
  try {
    a = await verifyAction(proof.a, grant, backend);
    b = await verifyAction(proof.b, grant, backend);
  } catch (e) {
    if (e instanceof ProtocolError) throw fail(`an action does not verify: ${e.message}`);
    throw e;
  }
  if (bytesEqual(a.bytes, b.bytes)) throw fail("the two actions are the same");
  let by: "sequence" | "ordinal";
  if (a.payload.seq === b.payload.seq) by = "sequence";
  else if (scopeOf(a.payload) === scopeOf(b.payload) && a.payload.ord === b.payload.ord)
    by = "ordinal";
  else throw fail("the actions share neither a sequence number nor a scope ordinal");
  return Object.freeze({ grant: grant.id, by, a, b });
}
