import { type Address, address } from "@solana/kit";

export const SYSTEM_PROGRAM = address("11111111111111111111111111111111");
export const TOKEN_PROGRAM = address("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
export const ASSOCIATED_TOKEN_PROGRAM = address("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
export const COMPUTE_BUDGET_PROGRAM = address("ComputeBudget111111111111111111111111111111");

/** SPL Memo v1 and v3: the two addresses every cluster and LiteSVM ship. */
export const MEMO_V1_PROGRAM = address("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo");
export const MEMO_V3_PROGRAM = address("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");
/**
 * The Memo program our transactions call unless a chain says otherwise. Not the newer
 * address `@solana-program/memo` 0.15 defaults to: LiteSVM does not ship it.
 */
export const DEFAULT_MEMO_PROGRAM: Address = MEMO_V3_PROGRAM;

/** Legacy and v0 transactions: the packet limit (LiteSVM does not enforce it; we do). */
export const TRANSACTION_SIZE_LIMIT = 1232;

/** SPL-Token account and mint sizes, bytes. */
export const TOKEN_ACCOUNT_SIZE = 165;
export const MINT_SIZE = 82;

/** Lamports per signature on every current cluster (and LiteSVM). */
export const LAMPORTS_PER_SIGNATURE = 5000n;

/**
 * Default SOL top-up for a session key, lamports: 0.005 SOL. The key must stay rent-exempt
 * (890,880 lamports for a data-less account) or reach exactly 0, so about 4.1 M lamports are
 * spendable on fees: ~800 tips at 5,000 lamports, or 2 author token accounts created at
 * 2,039,280 lamports of rent each.
 */
export const DEFAULT_FEE_TOP_UP = 5_000_000n;

/** The memo of a tip transaction: names the post it tips. */
export const TIP_MEMO_PREFIX = "sesame-tip:";

/** Domain-separates the seed of a device's session token account. */
export const SESSION_ACCOUNT_SEED_DOMAIN = "sesame session token account v1";
