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
export function tipCheck(db: Kysely<Database>, chain: Chain | undefined): TipCheck {
  return async (action, grant) => {
    const p = action.payload;
    if (p.kind !== "tip") return null;
    if (chain === undefined) {
      return new ProtocolError(ErrorCode.UNAVAILABLE, {
        reason: "this node has no chain access to verify tips",
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
    const r = await verifyTipOnChain(chain, {
      tip: p.body,
      grant: grant.grant,
      author: post.wallet as WalletAddress,
    });
    return r.ok ? null : (r.error as ProtocolError);
  };
}
