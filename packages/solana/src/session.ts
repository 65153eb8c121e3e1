/**
 * The funds-tier flows as a client runs them: read the facts from a chain, build, sign,
 * submit. START and RECOVER are signed by the wallet, TIP and END by the session key.
 */
import {
  type ActionId,
  ErrorCode,
  type Grant,
  type MintAddress,
  ProtocolError,
  parseGrantText,
  type TipBudget,
  type WalletAddress,
} from "@sesame/protocol";
import {
  type Address,
  address,
  partiallySignTransactionWithSigners,
  type Transaction,
  type TransactionModifyingSigner,
  type TransactionPartialSigner,
} from "@solana/kit";
import {
  decodeTokenAccount,
  mainTokenAccountAddress,
  sessionTokenAccountAddress,
  type TokenAccountState,
} from "./accounts.js";
import type { Chain, TransactionSignature } from "./chain.js";
import { DEFAULT_FEE_TOP_UP, SYSTEM_PROGRAM, TOKEN_ACCOUNT_SIZE } from "./constants.js";
import {
  type BuiltTransaction,
  buildEndSession,
  buildRecover,
  buildStartSession,
  buildTip,
  type EndSessionTransaction,
  type Priority,
  type RecoverTransaction,
  type SessionAccountStatus,
  type StartSessionTransaction,
  type TipTransaction,
} from "./transactions.js";
import { assertWithinSizeLimit, encodeWire, toBase64 } from "./wire.js";

export type TransactionSigner = TransactionPartialSigner | TransactionModifyingSigner;

/** Chain-specific choices shared by the flows. */
export interface FlowOptions {
  readonly memoProgram?: Address;
  readonly priority?: Priority;
}

function invalid(field: string, reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.INVALID_FIELD, { field, reason });
}

function budgetOf(grant: Grant): TipBudget {
  if (grant.tipBudget === null) {
    throw new ProtocolError(ErrorCode.SCOPE_NOT_GRANTED, { scope: "tip" });
  }
  return grant.tipBudget;
}

/** Signs with the given signers (the wallet, or the session key). */
export async function signTransaction(
  transaction: Transaction,
  signers: readonly TransactionSigner[],
): Promise<Transaction> {
  return Object.freeze(await partiallySignTransactionWithSigners(signers, transaction));
}

/** The signed wire transaction, base64: the `transaction` of a grant in transaction form. */
export function wireBase64(transaction: Transaction): string {
  return toBase64(encodeWire(transaction));
}

/**
 * Sends a signed transaction and waits for its confirmation. A refusal or failure rejects
 * with a ProtocolError 7004 CHAIN_ERROR naming the instruction, program and error.
 */
export async function submitTransaction(
  chain: Chain,
  transaction: Transaction,
  built?: Pick<BuiltTransaction, "programs">,
  lastValidBlockHeight?: bigint,
): Promise<TransactionSignature> {
  const wire = encodeWire(transaction);
  assertWithinSizeLimit(wire.length);
  const signature = await chain.sendTransaction(wire);
  await chain.confirmTransaction(signature, {
    ...(built === undefined ? {} : { programs: built.programs }),
    ...(lastValidBlockHeight === undefined ? {} : { lastValidBlockHeight }),
  });
  return signature;
}

// ---------------------------------------------------------------------------------------
// START

export interface PrepareStartParams extends FlowOptions {
  /** The grant's exact text: the wallet, session key and tip budget come from it. */
  readonly grantText: string;
  readonly deviceId: string;
  /** Lamports for the session key's fees. Default DEFAULT_FEE_TOP_UP (0.005 SOL). */
  readonly feeTopUp?: bigint;
}

async function sessionAccountStatus(
  chain: Chain,
  account: Address,
  wallet: Address,
  mint: Address,
): Promise<SessionAccountStatus> {
  const info = await chain.getAccount(account);
  if (info === null || (info.lamports === 0n && info.data.length === 0)) return { kind: "missing" };
  if (info.owner === SYSTEM_PROGRAM && info.data.length === 0) {
    return { kind: "prefunded", lamports: info.lamports };
  }
  const token = decodeTokenAccount(info);
  if (token === null || token.mint !== mint || token.owner !== wallet) {
    throw invalid("sessionTokenAccount", "the address holds an account that is not this wallet's");
  }
  if (token.state !== "initialized") throw invalid("sessionTokenAccount", `is ${token.state}`);
  return { kind: "ready" };
}

/** Reads what START needs from the chain and builds it, unsigned (the wallet signs it). */
export async function prepareStartSession(
  chain: Chain,
  params: PrepareStartParams,
): Promise<StartSessionTransaction & { readonly lastValidBlockHeight: bigint }> {
  const grant = parseGrantText(params.grantText);
  const budget = budgetOf(grant);
  const wallet = address(grant.wallet);
  const mint = address(budget.mint);
  const feeTopUp = params.feeTopUp ?? DEFAULT_FEE_TOP_UP;
  const { address: account } = await sessionTokenAccountAddress(wallet, mint, params.deviceId);
  const [status, tokenAccountRent, keyRent, lifetime] = await Promise.all([
    sessionAccountStatus(chain, account, wallet, mint),
    chain.getMinimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE),
    chain.getMinimumBalanceForRentExemption(0),
    chain.latestBlockhash(),
  ]);
  // A System account must stay rent-exempt; below that the top-up transfer is refused.
  if (feeTopUp < keyRent) {
    throw invalid("feeTopUp", `must be at least ${keyRent} lamports (rent exemption)`);
  }
  const built = await buildStartSession({
    wallet: grant.wallet,
    sessionKey: grant.sessionKey,
    mint: budget.mint,
    decimals: budget.decimals,
    budget: BigInt(budget.amount),
    feeTopUp,
    deviceId: params.deviceId,
    grantText: params.grantText,
    sessionAccount: status,
    tokenAccountRent,
    lifetime,
    ...flow(params),
  });
  return Object.freeze({ ...built, lastValidBlockHeight: lifetime.lastValidBlockHeight });
}

function flow(options: FlowOptions): FlowOptions {
  return {
    ...(options.memoProgram === undefined ? {} : { memoProgram: options.memoProgram }),
    ...(options.priority === undefined ? {} : { priority: options.priority }),
  };
}

export interface StartedSession {
  readonly signature: TransactionSignature;
  /** The signed wire transaction, base64: send `{text, transaction}` as the grant. */
  readonly transaction: string;
  readonly sessionTokenAccount: Address;
  readonly createdAccount: boolean;
  readonly memo: "text" | "id";
  readonly size: number;
}

/** START end to end: prepare, have the wallet sign (the session's one prompt), submit. */
export async function startSession(
  chain: Chain,
  params: PrepareStartParams & { readonly walletSigner: TransactionSigner },
): Promise<StartedSession> {
  if ((params.walletSigner.address as string) !== parseGrantText(params.grantText).wallet) {
    throw invalid("walletSigner", "is not the grant's wallet");
  }
  const built = await prepareStartSession(chain, params);
  const signed = await signTransaction(built.transaction, [params.walletSigner]);
  const signature = await submitTransaction(chain, signed, built, built.lastValidBlockHeight);
  return Object.freeze({
    signature,
    transaction: wireBase64(signed),
    sessionTokenAccount: built.sessionTokenAccount,
    createdAccount: built.createsAccount,
    memo: built.memo,
    size: built.size,
  });
}

// ---------------------------------------------------------------------------------------
// TIP

export interface PrepareTipParams extends FlowOptions {
  readonly grant: Grant;
  readonly deviceId: string;
  readonly author: WalletAddress;
  readonly amount: bigint;
  readonly post: ActionId;
}

/** Reads whether the author has a token account, and builds the tip, unsigned. */
export async function prepareTip(
  chain: Chain,
  params: PrepareTipParams,
): Promise<TipTransaction & { readonly lastValidBlockHeight: bigint }> {
  const budget = budgetOf(params.grant);
  const mint = address(budget.mint);
  const [{ address: account }, authorAccount, lifetime] = await Promise.all([
    sessionTokenAccountAddress(address(params.grant.wallet), mint, params.deviceId),
    mainTokenAccountAddress(address(params.author), mint),
    chain.latestBlockhash(),
  ]);
  const existing = decodeTokenAccount(await chain.getAccount(authorAccount));
  const built = await buildTip({
    sessionKey: params.grant.sessionKey,
    sessionTokenAccount: account,
    mint: budget.mint,
    decimals: budget.decimals,
    author: params.author,
    amount: params.amount,
    post: params.post,
    createAuthorAccount: existing === null,
    lifetime,
    ...flow(params),
  });
  return Object.freeze({ ...built, lastValidBlockHeight: lifetime.lastValidBlockHeight });
}

/** TIP end to end, signed by the session key; returns the signature for the tip action. */
export async function sendTip(
  chain: Chain,
  params: PrepareTipParams & { readonly sessionSigner: TransactionSigner },
): Promise<TransactionSignature> {
  if ((params.sessionSigner.address as string) !== params.grant.sessionKey) {
    throw invalid("sessionKey", "is not the grant's session key");
  }
  const built = await prepareTip(chain, params);
  const signed = await signTransaction(built.transaction, [params.sessionSigner]);
  return submitTransaction(chain, signed, built, built.lastValidBlockHeight);
}

// ---------------------------------------------------------------------------------------
// END

export interface PrepareEndParams extends FlowOptions {
  readonly grant: Grant;
  readonly deviceId: string;
}

export interface PreparedEnd extends EndSessionTransaction {
  readonly lastValidBlockHeight: bigint;
  readonly remaining: bigint;
  readonly fee: bigint;
  readonly sweep: bigint;
}

/** What the session key can still move as delegate: the allowance, capped by the balance. */
export function remainingAllowance(account: TokenAccountState | null, sessionKey: Address): bigint {
  if (account === null || account.delegate !== sessionKey) return 0n;
  // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints
  return account.delegatedAmount < account.amount ? account.delegatedAmount : account.amount;
}

/**
 * Reads the allowance left and the session key's lamports, and builds END so that the key
 * ends with exactly 0 lamports (the fee is asked of the chain). Null when nothing is left.
 */
export async function prepareEndSession(
  chain: Chain,
  params: PrepareEndParams,
): Promise<PreparedEnd | null> {
  const grant = params.grant;
  const budget = budgetOf(grant);
  const wallet = address(grant.wallet);
  const sessionKey = address(grant.sessionKey);
  const mint = address(budget.mint);
  const [{ address: account }, mainAccount, lifetime, lamports] = await Promise.all([
    sessionTokenAccountAddress(wallet, mint, params.deviceId),
    mainTokenAccountAddress(wallet, mint),
    chain.latestBlockhash(),
    chain.getBalance(sessionKey),
  ]);
  const [sessionAccount, main] = await Promise.all([
    chain.getAccount(account),
    chain.getAccount(mainAccount),
  ]);
  const remaining = remainingAllowance(decodeTokenAccount(sessionAccount), sessionKey);
  if (remaining === 0n && lamports === 0n) return null;
  const createMainAccount = remaining > 0n && main === null;
  const base = {
    sessionKey: grant.sessionKey,
    wallet: grant.wallet,
    sessionTokenAccount: account,
    mint: budget.mint,
    decimals: budget.decimals,
    remaining,
    createMainAccount,
    lifetime,
    ...flow(params),
  };
  // The fee does not depend on the amount swept: price a draft, then sweep the rest.
  const draft = await buildEndSession({ ...base, sweep: lamports > 0n ? lamports : 1n });
  const fee = await chain.getFeeForMessage(Uint8Array.from(draft.transaction.messageBytes));
  const rent = createMainAccount
    ? await chain.getMinimumBalanceForRentExemption(TOKEN_ACCOUNT_SIZE)
    : 0n;
  const sweep = lamports - fee - rent;
  if (sweep < 0n) {
    throw invalid("sessionKey", `holds ${lamports} lamports, less than the fee ${fee + rent}`);
  }
  const built = await buildEndSession({ ...base, sweep });
  return Object.freeze({
    ...built,
    lastValidBlockHeight: lifetime.lastValidBlockHeight,
    remaining,
    fee,
    sweep,
  });
}

export interface EndedSession {
  readonly signature: TransactionSignature;
  readonly returnedTokens: bigint;
  readonly returnedLamports: bigint;
  readonly fee: bigint;
}

/** END end to end, signed by the session key (no wallet prompt). Null when nothing is left. */
export async function endSession(
  chain: Chain,
  params: PrepareEndParams & { readonly sessionSigner: TransactionSigner },
): Promise<EndedSession | null> {
  if ((params.sessionSigner.address as string) !== params.grant.sessionKey) {
    throw invalid("sessionKey", "is not the grant's session key");
  }
  const built = await prepareEndSession(chain, params);
  if (built === null) return null;
  const signed = await signTransaction(built.transaction, [params.sessionSigner]);
  const signature = await submitTransaction(chain, signed, built, built.lastValidBlockHeight);
  return Object.freeze({
    signature,
    returnedTokens: built.remaining,
    returnedLamports: built.sweep,
    fee: built.fee,
  });
}

// ---------------------------------------------------------------------------------------
// RECOVER

export interface SessionTokenAccount {
  readonly address: Address;
  readonly lamports: bigint;
  readonly token: TokenAccountState;
}

/**
 * The wallet's token accounts for a mint other than its main one: its devices' session
 * accounts, found from the wallet alone (a lost device's id is not needed).
 */
export async function findSessionTokenAccounts(
  chain: Chain,
  wallet: WalletAddress,
  mint: Address,
): Promise<readonly SessionTokenAccount[]> {
  const owner = address(wallet);
  const [accounts, main] = await Promise.all([
    chain.getTokenAccountsByOwner(owner, mint),
    mainTokenAccountAddress(owner, mint),
  ]);
  const found: SessionTokenAccount[] = [];
  for (const account of accounts) {
    const token = decodeTokenAccount(account);
    if (token === null || account.address === main) continue;
    found.push(Object.freeze({ address: account.address, lamports: account.lamports, token }));
  }
  return Object.freeze(found);
}

export interface PrepareRecoverParams extends FlowOptions {
  readonly wallet: WalletAddress;
  readonly sessionTokenAccount: Address;
  /** Close the account too, returning its rent (a later session on the device recreates it). */
  readonly close?: boolean;
}

/** Reads the session account and builds RECOVER, unsigned (the wallet signs it). */
export async function prepareRecover(
  chain: Chain,
  params: PrepareRecoverParams,
): Promise<
  RecoverTransaction & { readonly lastValidBlockHeight: bigint; readonly balance: bigint }
> {
  const wallet = address(params.wallet);
  const token = decodeTokenAccount(await chain.getAccount(params.sessionTokenAccount));
  if (token === null || token.owner !== wallet) {
    throw invalid("sessionTokenAccount", "is not a token account of this wallet");
  }
  const mainAccount = await mainTokenAccountAddress(wallet, token.mint);
  const mintInfo = await chain.getAccount(token.mint);
  // Mint layout: decimals is the byte at offset 44.
  const decimals = mintInfo?.data[44];
  if (decimals === undefined) throw invalid("mint", "not found");
  const [main, lifetime] = await Promise.all([
    chain.getAccount(mainAccount),
    chain.latestBlockhash(),
  ]);
  const built = await buildRecover({
    wallet: params.wallet,
    sessionTokenAccount: params.sessionTokenAccount,
    mint: token.mint as string as MintAddress,
    decimals,
    balance: token.amount,
    hasDelegate: token.delegate !== null,
    close: params.close ?? false,
    createMainAccount: token.amount > 0n && main === null,
    lifetime,
    ...flow(params),
  });
  return Object.freeze({
    ...built,
    lastValidBlockHeight: lifetime.lastValidBlockHeight,
    balance: token.amount,
  });
}

/** RECOVER end to end: one wallet signature. */
export async function recoverSessionAccount(
  chain: Chain,
  params: PrepareRecoverParams & { readonly walletSigner: TransactionSigner },
): Promise<{ readonly signature: TransactionSignature; readonly recovered: bigint }> {
  const built = await prepareRecover(chain, params);
  const signed = await signTransaction(built.transaction, [params.walletSigner]);
  const signature = await submitTransaction(chain, signed, built, built.lastValidBlockHeight);
  return Object.freeze({ signature, recovered: built.balance });
}
