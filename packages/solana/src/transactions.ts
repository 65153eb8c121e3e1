/**
 * The four transactions of the funds tier, built with @solana/kit and @solana-program/*.
 * Builders are pure: they take addresses and chain facts, and return an unsigned compiled
 * transaction (`prepare*` in session.ts reads the facts from a chain). Signing is the
 * caller's: the wallet for START and RECOVER, the session key for TIP and END.
 */
import {
  type ActionId,
  ErrorCode,
  GRANT_MEMO_PREFIX,
  grantIdOfText,
  type MintAddress,
  ProtocolError,
  type SessionPublicKey,
  type WalletAddress,
} from "@sesame/protocol";
import {
  type Address,
  address,
  appendTransactionMessageInstructions,
  compileTransaction,
  createNoopSigner,
  createTransactionMessage,
  type Instruction,
  pipe,
  setTransactionMessageComputeUnitLimit,
  setTransactionMessageComputeUnitPrice,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type Transaction,
} from "@solana/kit";
import { getAddMemoInstruction } from "@solana-program/memo";
import {
  getAllocateWithSeedInstruction,
  getAssignWithSeedInstruction,
  getCreateAccountWithSeedInstruction,
  getTransferSolInstruction,
} from "@solana-program/system";
import {
  getApproveCheckedInstruction,
  getCloseAccountInstruction,
  getCreateAssociatedTokenIdempotentInstruction,
  getInitializeAccount3Instruction,
  getRevokeInstruction,
  getTransferCheckedInstruction,
} from "@solana-program/token";
import { mainTokenAccountAddress, sessionTokenAccountAddress } from "./accounts.js";
import type { Lifetime } from "./chain.js";
import {
  DEFAULT_MEMO_PROGRAM,
  TIP_MEMO_PREFIX,
  TOKEN_ACCOUNT_SIZE,
  TOKEN_PROGRAM,
  TRANSACTION_SIZE_LIMIT,
} from "./constants.js";
import { assertWithinSizeLimit, encodeWire } from "./wire.js";

/** Optional priority fee: compute-budget instructions (they cost ~40 bytes of memo room). */
export interface Priority {
  readonly computeUnitLimit: number;
  /** Micro-lamports per compute unit. */
  readonly computeUnitPrice: bigint;
}

/** Options every builder takes. */
export interface BuildOptions {
  readonly lifetime: Lifetime;
  /** The Memo program of this chain. Default Memo v3 (`MemoSq4…`). */
  readonly memoProgram?: Address;
  readonly priority?: Priority;
}

/** An unsigned compiled transaction and its wire size. Frozen. */
export interface BuiltTransaction {
  readonly transaction: Transaction;
  /** Wire size once signed, bytes (signatures are fixed-size slots). */
  readonly size: number;
  /** Program address of each instruction, to name a failure. */
  readonly programs: readonly Address[];
}

function compile(
  feePayer: Address,
  instructions: readonly Instruction[],
  options: BuildOptions,
): BuiltTransaction {
  const base = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayer(feePayer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(options.lifetime, m),
  );
  const priced =
    options.priority === undefined
      ? base
      : pipe(
          base,
          (m) => setTransactionMessageComputeUnitLimit(options.priority?.computeUnitLimit, m),
          (m) => setTransactionMessageComputeUnitPrice(options.priority?.computeUnitPrice ?? 0n, m),
        );
  const message = appendTransactionMessageInstructions(instructions, priced);
  const transaction = compileTransaction(message);
  return Object.freeze({
    transaction,
    size: encodeWire(transaction).length,
    programs: Object.freeze(message.instructions.map((ix) => ix.programAddress)),
  });
}

function memo(text: string, options: BuildOptions): Instruction {
  return getAddMemoInstruction(
    { memo: text },
    { programAddress: options.memoProgram ?? DEFAULT_MEMO_PROGRAM },
  );
}

function positive(field: string, value: bigint): void {
  if (typeof value !== "bigint" || value <= 0n) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field,
      reason: "must be a positive bigint",
    });
  }
}

// ---------------------------------------------------------------------------------------
// START: one wallet signature

/** What the chain holds at the device's session token account address. */
export type SessionAccountStatus =
  /** Nothing there: create it (first session on this device). */
  | { readonly kind: "missing" }
  /** A System account with lamports someone sent there: allocate and assign it instead. */
  | { readonly kind: "prefunded"; readonly lamports: bigint }
  /** The wallet's token account for this mint: reuse it (no new rent). */
  | { readonly kind: "ready" };

export interface StartSessionParams extends BuildOptions {
  readonly wallet: WalletAddress;
  readonly sessionKey: SessionPublicKey;
  readonly mint: MintAddress;
  readonly decimals: number;
  /** The tip budget, base units: moved into the session account and approved. */
  readonly budget: bigint;
  /** SOL for the session key's fees, lamports. */
  readonly feeTopUp: bigint;
  /** A stable id the device keeps; with the mint it fixes the session account address. */
  readonly deviceId: string;
  /** The grant's exact text: carried whole in the Memo when it fits, else its id. */
  readonly grantText: string;
  readonly sessionAccount: SessionAccountStatus;
  /** Rent-exempt minimum of a 165-byte token account, lamports. */
  readonly tokenAccountRent: bigint;
}

export interface StartSessionTransaction extends BuiltTransaction {
  readonly sessionTokenAccount: Address;
  readonly mainTokenAccount: Address;
  readonly seed: string;
  /** Whether this transaction creates the session token account (pays its rent). */
  readonly createsAccount: boolean;
  /** The Memo carries the grant text, or `sesame-grant:<grant id>`. */
  readonly memo: "text" | "id";
}

/**
 * START: (create the device's session token account the first time;) move the budget into
 * it from the wallet's main token account; approve the session key as its delegate for
 * exactly the budget; top the session key up with SOL for fees; and a Memo carrying the
 * grant. Signed by the wallet alone, which pays the fee: that signature is the grant's.
 */
export async function buildStartSession(
  params: StartSessionParams,
): Promise<StartSessionTransaction> {
  positive("budget", params.budget);
  positive("feeTopUp", params.feeTopUp);
  const wallet = address(params.wallet);
  const sessionKey = address(params.sessionKey);
  const mint = address(params.mint);
  if ((sessionKey as string) === wallet) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "sessionKey",
      reason: "must differ from the wallet",
    });
  }
  const walletSigner = createNoopSigner(wallet);
  const { address: account, seed } = await sessionTokenAccountAddress(
    wallet,
    mint,
    params.deviceId,
  );
  const mainAccount = await mainTokenAccountAddress(wallet, mint);

  const setup: Instruction[] = [];
  const status = params.sessionAccount;
  if (status.kind === "missing") {
    setup.push(
      getCreateAccountWithSeedInstruction({
        payer: walletSigner,
        newAccount: account,
        base: wallet,
        seed,
        amount: params.tokenAccountRent,
        space: TOKEN_ACCOUNT_SIZE,
        programAddress: TOKEN_PROGRAM,
      }),
    );
  } else if (status.kind === "prefunded") {
    // Anyone can send lamports to an address; that must not block the account's creation
    // (CreateAccount refuses an address with lamports). Allocate and assign it in place.
    if (status.lamports < params.tokenAccountRent) {
      setup.push(
        getTransferSolInstruction({
          source: walletSigner,
          destination: account,
          amount: params.tokenAccountRent - status.lamports,
        }),
      );
    }
    setup.push(
      getAllocateWithSeedInstruction({
        newAccount: account,
        baseAccount: walletSigner,
        base: wallet,
        seed,
        space: TOKEN_ACCOUNT_SIZE,
        programAddress: TOKEN_PROGRAM,
      }),
      getAssignWithSeedInstruction({
        account,
        baseAccount: walletSigner,
        base: wallet,
        seed,
        programAddress: TOKEN_PROGRAM,
      }),
    );
  }
  if (status.kind !== "ready") {
    setup.push(getInitializeAccount3Instruction({ account, mint, owner: wallet }));
  }
  const funding: Instruction[] = [
    getTransferCheckedInstruction({
      source: mainAccount,
      mint,
      destination: account,
      authority: walletSigner,
      amount: params.budget,
      decimals: params.decimals,
    }),
    getApproveCheckedInstruction({
      source: account,
      mint,
      delegate: sessionKey,
      owner: walletSigner,
      amount: params.budget,
      decimals: params.decimals,
    }),
    getTransferSolInstruction({
      source: walletSigner,
      destination: sessionKey,
      amount: params.feeTopUp,
    }),
  ];
  const info = {
    sessionTokenAccount: account,
    mainTokenAccount: mainAccount,
    seed,
    createsAccount: status.kind !== "ready",
  };
  const withText = compile(wallet, [...setup, ...funding, memo(params.grantText, params)], params);
  if (withText.size <= TRANSACTION_SIZE_LIMIT) {
    return Object.freeze({ ...withText, ...info, memo: "text" as const });
  }
  const withId = compile(
    wallet,
    [...setup, ...funding, memo(`${GRANT_MEMO_PREFIX}${grantIdOfText(params.grantText)}`, params)],
    params,
  );
  assertWithinSizeLimit(withId.size);
  return Object.freeze({ ...withId, ...info, memo: "id" as const });
}

// ---------------------------------------------------------------------------------------
// TIP: the session key alone

export interface TipParams extends BuildOptions {
  readonly sessionKey: SessionPublicKey;
  /** The granter's session token account (the delegate's source). */
  readonly sessionTokenAccount: Address;
  readonly mint: MintAddress;
  readonly decimals: number;
  readonly author: WalletAddress;
  readonly amount: bigint;
  readonly post: ActionId;
  /** Create the author's token account first (idempotent; the session key pays its rent). */
  readonly createAuthorAccount: boolean;
}

export interface TipTransaction extends BuiltTransaction {
  readonly authorTokenAccount: Address;
}

/** The memo of a tip: names the post. */
export function tipMemo(post: ActionId): string {
  return `${TIP_MEMO_PREFIX}${post}`;
}

/**
 * TIP: the session key, as the delegate of the session token account, transfers to the
 * author's token account, with a Memo naming the post. The session key pays the fee.
 */
export async function buildTip(params: TipParams): Promise<TipTransaction> {
  positive("amount", params.amount);
  const sessionKey = address(params.sessionKey);
  const mint = address(params.mint);
  const author = address(params.author);
  const signer = createNoopSigner(sessionKey);
  const authorAccount = await mainTokenAccountAddress(author, mint);
  const instructions: Instruction[] = [];
  if (params.createAuthorAccount) {
    instructions.push(
      getCreateAssociatedTokenIdempotentInstruction({
        payer: signer,
        ata: authorAccount,
        owner: author,
        mint,
      }),
    );
  }
  instructions.push(
    getTransferCheckedInstruction({
      source: params.sessionTokenAccount,
      mint,
      destination: authorAccount,
      authority: signer,
      amount: params.amount,
      decimals: params.decimals,
    }),
    memo(tipMemo(params.post), params),
  );
  const built = compile(sessionKey, instructions, params);
  assertWithinSizeLimit(built.size);
  return Object.freeze({ ...built, authorTokenAccount: authorAccount });
}

// ---------------------------------------------------------------------------------------
// END: the session key alone, no wallet prompt

export interface EndSessionParams extends BuildOptions {
  readonly sessionKey: SessionPublicKey;
  readonly wallet: WalletAddress;
  readonly sessionTokenAccount: Address;
  readonly mint: MintAddress;
  readonly decimals: number;
  /** What is left of the allowance (and in the account): moved back to the main account. */
  readonly remaining: bigint;
  /** Lamports swept back to the wallet: the session key's balance less the fee (and rent). */
  readonly sweep: bigint;
  /** Recreate the wallet's main token account if the wallet closed it (key pays rent). */
  readonly createMainAccount: boolean;
}

export interface EndSessionTransaction extends BuiltTransaction {
  readonly mainTokenAccount: Address;
}

/**
 * END: the session key moves what is left of its allowance back to the wallet's main
 * token account (which clears the delegation) and sweeps its lamports to the wallet.
 */
export async function buildEndSession(params: EndSessionParams): Promise<EndSessionTransaction> {
  const sessionKey = address(params.sessionKey);
  const wallet = address(params.wallet);
  const mint = address(params.mint);
  const signer = createNoopSigner(sessionKey);
  const mainAccount = await mainTokenAccountAddress(wallet, mint);
  const instructions: Instruction[] = [];
  if (params.remaining > 0n) {
    if (params.createMainAccount) {
      instructions.push(
        getCreateAssociatedTokenIdempotentInstruction({
          payer: signer,
          ata: mainAccount,
          owner: wallet,
          mint,
        }),
      );
    }
    instructions.push(
      getTransferCheckedInstruction({
        source: params.sessionTokenAccount,
        mint,
        destination: mainAccount,
        authority: signer,
        amount: params.remaining,
        decimals: params.decimals,
      }),
    );
  }
  if (params.sweep > 0n) {
    instructions.push(
      getTransferSolInstruction({ source: signer, destination: wallet, amount: params.sweep }),
    );
  }
  if (instructions.length === 0) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "session",
      reason: "nothing to return: no allowance left and no lamports to sweep",
    });
  }
  const built = compile(sessionKey, instructions, params);
  assertWithinSizeLimit(built.size);
  return Object.freeze({ ...built, mainTokenAccount: mainAccount });
}

// ---------------------------------------------------------------------------------------
// RECOVER: one wallet signature, when the device or its session key is gone

export interface RecoverParams extends BuildOptions {
  readonly wallet: WalletAddress;
  readonly sessionTokenAccount: Address;
  readonly mint: MintAddress;
  readonly decimals: number;
  /** The session account's balance: moved back to the main account. */
  readonly balance: bigint;
  /** Whether a delegate is set (revoked unless the account is closed). */
  readonly hasDelegate: boolean;
  /** Close the session account too (its rent goes back to the wallet). */
  readonly close: boolean;
  /** Create the wallet's main token account first (the wallet pays its rent). */
  readonly createMainAccount: boolean;
}

export interface RecoverTransaction extends BuiltTransaction {
  readonly mainTokenAccount: Address;
}

/**
 * RECOVER: the wallet, as owner, takes the session account's balance back, revokes the
 * delegate, and optionally closes the account.
 */
export async function buildRecover(params: RecoverParams): Promise<RecoverTransaction> {
  const wallet = address(params.wallet);
  const mint = address(params.mint);
  const signer = createNoopSigner(wallet);
  const mainAccount = await mainTokenAccountAddress(wallet, mint);
  const instructions: Instruction[] = [];
  if (params.balance > 0n) {
    if (params.createMainAccount) {
      instructions.push(
        getCreateAssociatedTokenIdempotentInstruction({
          payer: signer,
          ata: mainAccount,
          owner: wallet,
          mint,
        }),
      );
    }
    instructions.push(
      getTransferCheckedInstruction({
        source: params.sessionTokenAccount,
        mint,
        destination: mainAccount,
        authority: signer,
        amount: params.balance,
        decimals: params.decimals,
      }),
    );
  }
  if (params.close) {
    instructions.push(
      getCloseAccountInstruction({
        account: params.sessionTokenAccount,
        destination: wallet,
        owner: signer,
      }),
    );
  } else if (params.hasDelegate) {
    instructions.push(getRevokeInstruction({ source: params.sessionTokenAccount, owner: signer }));
  }
  if (instructions.length === 0) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "sessionTokenAccount",
      reason: "nothing to recover: no balance, no delegate, and not closing",
    });
  }
  const built = compile(wallet, instructions, params);
  assertWithinSizeLimit(built.size);
  return Object.freeze({ ...built, mainTokenAccount: mainAccount });
}
