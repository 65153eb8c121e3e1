/**
 * Checks a tip action against the chain: its transaction is on chain and succeeded, and
 * it moved exactly the stated amount of the stated mint, by the session key as delegate,
 * from a token account of the granter to the post author's, with a Memo naming the post.
 * Whether the transaction was already used by another tip (7003) is the caller's to check
 * (it needs the node's store): the verified signature is returned for that.
 */
import {
  DEFAULT_MEMO_PROGRAMS,
  ErrorCode,
  err,
  type Grant,
  ok,
  ProtocolError,
  type Result,
  type TipBody,
  type WalletAddress,
} from "@sesame/protocol";
import type { Address } from "@solana/kit";
import { decodeTokenAccount } from "./accounts.js";
import type { Chain, TokenBalance, TransactionSignature } from "./chain.js";
import { TOKEN_PROGRAM } from "./constants.js";
import { decodeTransactionError } from "./errors.js";
import { tipMemo } from "./transactions.js";
import { type DecodedWire, decodeWire, instructionPrograms } from "./wire.js";

export interface TipVerificationInput {
  readonly tip: TipBody;
  /** The grant the tip action was signed under. */
  readonly grant: Pick<Grant, "wallet" | "sessionKey" | "tipBudget">;
  /** The wallet that wrote the tipped post. */
  readonly author: WalletAddress;
  /** Memo programs accepted for the post's memo. Default Memo v1 and v3. */
  readonly memoPrograms?: readonly string[];
}

/** A tip whose transaction checked out. Frozen. */
export interface VerifiedTip {
  /** The transaction's signature: store it under a unique key to refuse reuse (7003). */
  readonly signature: TransactionSignature;
  readonly slot: bigint;
  readonly blockTime: number | null;
  /** The granter's token account the session key spent from as delegate. */
  readonly source: Address;
  /** The author's token account. */
  readonly destination: Address;
  readonly mint: Address;
  readonly amount: bigint;
}

export type TipVerificationError = ProtocolError<
  typeof ErrorCode.TIP_NOT_ON_CHAIN | typeof ErrorCode.TIP_MISMATCH
>;

const TRANSFER = 3;
const TRANSFER_CHECKED = 12;

function mismatch(field: string, expected: string, actual: string): TipVerificationError {
  return new ProtocolError(ErrorCode.TIP_MISMATCH, { field, expected, actual });
}

function ownerFrom(
  balances: readonly TokenBalance[] | null,
  index: number,
): TokenBalance | undefined {
  return balances?.find((b) => b.accountIndex === index);
}

/**
 * Verifies a tip on chain. Resolves to ok(VerifiedTip), or err with 7001 TIP_NOT_ON_CHAIN
 * or 7002 TIP_MISMATCH (context.field: mint, author, status, amount, signer, source, memo;
 * `actual` is what the tip says, `expected` what the chain shows). Rejects only when the
 * chain cannot be reached.
 */
export async function verifyTipOnChain(
  chain: Pick<Chain, "getTransaction" | "getAccount">,
  input: TipVerificationInput,
): Promise<Result<VerifiedTip, TipVerificationError>> {
  const { tip, grant, author } = input;
  const budget = grant.tipBudget;
  if (budget === null) return err(mismatch("mint", "no tip budget in the grant", tip.mint));
  if (tip.mint !== budget.mint) return err(mismatch("mint", budget.mint, tip.mint));
  if (tip.to !== author) return err(mismatch("author", author, tip.to));

  const signature = tip.transaction as string as TransactionSignature;
  const tx = await chain.getTransaction(signature);
  if (tx === null) return err(new ProtocolError(ErrorCode.TIP_NOT_ON_CHAIN, { signature }));
  let decoded: DecodedWire;
  try {
    decoded = decodeWire(tx.wire);
  } catch {
    return err(new ProtocolError(ErrorCode.TIP_NOT_ON_CHAIN, { signature }));
  }
  const { message } = decoded;
  if (tx.err !== null) {
    const failure = decodeTransactionError(tx.err, instructionPrograms(message));
    return err(mismatch("status", `failed: ${failure.context.name}`, "success"));
  }
  const keys: readonly Address[] = [
    ...message.staticAccounts,
    ...tx.loadedAddresses.writable,
    ...tx.loadedAddresses.readonly,
  ];

  const transfers = message.instructions.filter(
    (ix) =>
      keys[ix.programAddressIndex] === TOKEN_PROGRAM &&
      (ix.data?.[0] === TRANSFER || ix.data?.[0] === TRANSFER_CHECKED),
  );
  const transfer = transfers[0];
  if (transfers.length !== 1 || transfer === undefined) {
    return err(mismatch("amount", `${transfers.length} token transfers`, tip.amount));
  }
  const data = transfer.data ?? new Uint8Array();
  if (data[0] !== TRANSFER_CHECKED || data.length < 10) {
    return err(mismatch("amount", "an unchecked transfer", tip.amount));
  }
  const [sourceIndex = -1, mintIndex = -1, destinationIndex = -1, authorityIndex = -1] =
    transfer.accountIndices ?? [];
  const source = keys[sourceIndex];
  const mint = keys[mintIndex];
  const destination = keys[destinationIndex];
  const authority = keys[authorityIndex];
  if (
    source === undefined ||
    mint === undefined ||
    destination === undefined ||
    authority === undefined
  ) {
    return err(mismatch("amount", "a malformed transfer", tip.amount));
  }
  const amount = new DataView(data.buffer, data.byteOffset + 1, 8).getBigUint64(0, true);

  if ((mint as string) !== tip.mint) return err(mismatch("mint", mint, tip.mint));
  if (amount !== BigInt(tip.amount)) return err(mismatch("amount", amount.toString(), tip.amount));
  if (data[9] !== budget.decimals) {
    return err(mismatch("mint", `${data[9]} decimals`, `${budget.decimals} decimals`));
  }
  // The session key signed, as the transfer's authority. The source belongs to the granter
  // (not to the session key), so the key acted as the account's delegate.
  if (
    (authority as string) !== grant.sessionKey ||
    authorityIndex >= message.header.numSignerAccounts
  ) {
    return err(mismatch("signer", authority, grant.sessionKey));
  }
  const sourceOwner =
    ownerFrom(tx.preTokenBalances, sourceIndex)?.owner ??
    decodeTokenAccount(await chain.getAccount(source))?.owner ??
    null;
  if ((sourceOwner as string | null) !== grant.wallet) {
    return err(mismatch("source", `an account of ${sourceOwner ?? "unknown"}`, grant.wallet));
  }
  const destinationBalance = ownerFrom(tx.postTokenBalances, destinationIndex);
  const destinationOwner =
    destinationBalance?.owner ??
    decodeTokenAccount(await chain.getAccount(destination))?.owner ??
    null;
  if ((destinationOwner as string | null) !== author) {
    return err(mismatch("author", destinationOwner ?? "an unknown account", author));
  }
  if (destinationBalance !== undefined && (destinationBalance.mint as string) !== tip.mint) {
    return err(mismatch("mint", destinationBalance.mint, tip.mint));
  }

  const memoPrograms = input.memoPrograms ?? DEFAULT_MEMO_PROGRAMS;
  const memos = message.instructions
    .filter((ix) => memoPrograms.includes(keys[ix.programAddressIndex] ?? ""))
    .map((ix) => new TextDecoder().decode(ix.data ?? new Uint8Array()));
  const wanted = tipMemo(tip.post);
  if (memos.length !== 1 || memos[0] !== wanted) {
    return err(mismatch("memo", memos.length === 0 ? "no memo" : memos.join(" | "), wanted));
  }

  return ok(
    Object.freeze({
      signature,
      slot: tx.slot,
      blockTime: tx.blockTime,
      source,
      destination,
      mint,
      amount,
    }),
  );
}
