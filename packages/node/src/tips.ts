import {
  ErrorCode,
  ProtocolError,
  type VerifiedAction,
  type VerifiedGrant,
  type WalletAddress,
} from "@sesame/protocol";
import { type Chain, verifyTipOnChain } from "@sesame/solana";
import type { Kysely } from "kysely";
import type { Database } from "./db/schema.js";

/**
 * The funds tier's settings, for a chain reached over RPC (`SOLANA_RPC_URL`), where the
 * embedded chain's demo mint and Memo program are not a given.
 */
export interface FundsOptions {
  /** The one mint tips may move (`SESAME_TIP_MINT`); unset: the mint each grant names. */
  readonly tipMint?: string;
  /**
   * The Memo program of this chain (`SESAME_MEMO_PROGRAM`): the only one accepted for a
   * funded grant's memo and a tip's memo, and the one clients are told to use.
   */
  readonly memoProgram?: string;
  /** The RPC URL clients are told to use (default: the node's `SOLANA_RPC_URL`). */
  readonly rpcUrl?: string;
}

export type TipCheck = (
  action: VerifiedAction,
  grant: VerifiedGrant,
) => Promise<ProtocolError | null>;

/**
 * A tip is accepted only when its transaction is on chain, succeeded, and moved exactly
 * the stated amount of the grant's mint from the granter's session token account, by the
 * session key as delegate, to the tipped post's author, with a Memo naming the post.
 * (That the transaction backs no other tip is checked in the commit, under a unique key.)
 */
export function tipCheck(
  db: Kysely<Database>,
  chain: Chain | undefined,
  funds: FundsOptions = {},
): TipCheck {
  const memoPrograms = funds.memoProgram === undefined ? undefined : [funds.memoProgram];
  return async (action, grant) => {
    const p = action.payload;
    if (p.kind !== "tip") return null;
    if (chain === undefined) {
      return new ProtocolError(ErrorCode.UNAVAILABLE, {
        reason: "this node has no chain access to verify tips",
      });
    }
    if (funds.tipMint !== undefined && p.body.mint !== funds.tipMint) {
      return new ProtocolError(ErrorCode.TIP_MISMATCH, {
        field: "mint",
        expected: funds.tipMint,
        actual: p.body.mint,
      });
    }
    const post = await db
      .selectFrom("actions")
      .select("wallet")
      .where("id", "=", p.body.post)
      .where("kind", "in", ["post", "reply"])
      .where("hidden", "=", false)
      .executeTakeFirst();
    if (post === undefined) {
      return new ProtocolError(ErrorCode.TIP_MISMATCH, {
        field: "post",
        expected: "a post stored on this node",
        actual: p.body.post,
      });
    }
    let r: Awaited<ReturnType<typeof verifyTipOnChain>>;
    try {
      r = await verifyTipOnChain(chain, {
        tip: p.body,
        grant: grant.grant,
        author: post.wallet as WalletAddress,
        ...(memoPrograms === undefined ? {} : { memoPrograms }),
      });
    } catch (e) {
      if (e instanceof ProtocolError) return e;
      // The chain's RPC is unreachable or failing: "later", not "never" (clients retry).
      return new ProtocolError(ErrorCode.UNAVAILABLE, {
        reason: `the chain cannot be reached to verify the tip: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    return r.ok ? null : (r.error as ProtocolError);
  };
}
