import {
  applyRevocation,
  type Ed25519Backend,
  type EquivocationProof,
  ErrorCode,
  ProtocolError,
  revokeForEquivocation,
  type SessionState,
  type SignedRevocation,
  verifyEquivocation,
  verifyRevocation,
} from "@sesame/protocol";
import { type Kysely, sql, type Transaction } from "kysely";
import { LOG_CHANNEL, lockLog } from "./db/connect.js";
import type { Database } from "./db/schema.js";
import type { GrantCache } from "./grants.js";

export interface RevocationResult {
  readonly id: string;
  /** Sessions this revocation ended (or updated) on this node. */
  readonly revoked: string[];
  readonly duplicate: boolean;
  readonly logId: number;
}

/**
 * Verifies and applies a wallet-signed revocation in one transaction: stores it (so a
 * covered grant that arrives later is refused), revokes every covered session, and when
 * the key is reported compromised hides what this node received from that time on.
 */
export async function submitRevocation(
  db: Kysely<Database>,
  signed: SignedRevocation,
  network: string,
  backend: Ed25519Backend,
  now: number,
): Promise<RevocationResult> {
  const verified = await verifyRevocation(signed, { network }, backend);
  const rev = verified.revocation;
  return await db.transaction().execute(async (tx) => {
    if (rev.target.kind === "grant") {
      const owner = await tx
        .selectFrom("grants")
        .select("wallet")
        .where("id", "=", rev.target.grant)
        .executeTakeFirst();
      if (owner !== undefined && owner.wallet !== rev.wallet) {
        throw new ProtocolError(ErrorCode.REVOCATION_WALLET_MISMATCH, {
          expected: owner.wallet,
          actual: rev.wallet,
        });
      }
    }
    // Session rows first, then the log lock: the same order as the ingest path, so a
    // revocation racing a group commit cannot deadlock with it.
    let query = tx
      .selectFrom("sessions as s")
      .innerJoin("grants as g", "g.id", "s.grant_id")
      .select(["s.grant_id", "s.state"])
      .where("s.wallet", "=", rev.wallet);
    query =
      rev.target.kind === "grant"
        ? query.where("s.grant_id", "=", rev.target.grant)
        : query.where("g.issued_at", "<", rev.target.issuedBefore);
    const rows = await query.orderBy("s.grant_id").forUpdate("s").execute();
    await lockLog(tx);
    const inserted = await tx
      .insertInto("revocations")
      .values({
        id: verified.id,
        log_id: sql<number>`nextval('sesame_log')`,
        wallet: rev.wallet,
        text: verified.text,
        signature: verified.signature,
        target_grant: rev.target.kind === "grant" ? rev.target.grant : null,
        issued_before: rev.target.kind === "all" ? rev.target.issuedBefore : null,
        compromised_since: rev.compromisedSince,
        received_at: now,
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .returning("log_id")
      .executeTakeFirst();
    const logId =
      inserted?.log_id ??
      (
        await tx
          .selectFrom("revocations")
          .select("log_id")
          .where("id", "=", verified.id)
          .executeTakeFirstOrThrow()
      ).log_id;
    const revoked: string[] = [];
    for (const row of rows) {
      const before = JSON.parse(row.state) as SessionState;
      const after = applyRevocation(before, rev, now);
      if (after === before) continue;
      await saveState(tx, row.grant_id, after, now);
      revoked.push(row.grant_id);
      if (after.compromisedSince !== null)
        await hideCompromised(tx, row.grant_id, after.compromisedSince, rev.wallet);
    }
    if (inserted !== undefined)
      await sql`SELECT pg_notify(${LOG_CHANNEL}, ${String(logId)})`.execute(tx);
    return Object.freeze({ id: verified.id, revoked, duplicate: inserted === undefined, logId });
  });
}

export async function saveState(
  tx: Transaction<Database>,
  grantId: string,
  s: SessionState,
  now: number,
): Promise<void> {
  await tx
    .updateTable("sessions")
    .set({
      state: JSON.stringify(s),
      status: s.status,
      revoked_at: s.revokedAt,
      revoked_by: s.revokedBy,
      compromised_since: s.compromisedSince,
      updated_at: now,
    })
    .where("grant_id", "=", grantId)
    .execute();
}

/**
 * Hides what this node received from a compromised session since `since`, and rebuilds
 * the wallet's follows, reactions and profile from what stays visible.
 */
async function hideCompromised(
  tx: Transaction<Database>,
  grantId: string,
  since: number,
  wallet: string,
): Promise<void> {
  const hidden = await tx
    .updateTable("actions")
    .set({ hidden: true })
    .where("grant_id", "=", grantId)
    .where("received_at", ">=", since)
    .where("hidden", "=", false)
    .executeTakeFirst();
  if (Number(hidden.numUpdatedRows) === 0) return;
  await tx.deleteFrom("follows").where("follower", "=", wallet).execute();
  await tx.deleteFrom("reactions").where("wallet", "=", wallet).execute();
  await tx.deleteFrom("profiles").where("wallet", "=", wallet).execute();
  // Replay the wallet's visible actions, latest (ts, id) first, keeping the first of each key.
  await sql`
    INSERT INTO follows (follower, target, following, ts, action_id)
    SELECT DISTINCT ON (target) wallet, target, kind = 'follow', ts, id FROM actions
    WHERE wallet = ${wallet} AND kind IN ('follow', 'unfollow') AND NOT hidden
    ORDER BY target, ts DESC, id DESC`.execute(tx);
  await sql`
    INSERT INTO reactions (wallet, target, reaction, active, ts, action_id)
    SELECT DISTINCT ON (parent, payload::jsonb -> 'body' ->> 'reaction')
      wallet, parent, payload::jsonb -> 'body' ->> 'reaction', kind = 'react', ts, id FROM actions
    WHERE wallet = ${wallet} AND kind IN ('react', 'unreact') AND NOT hidden
    ORDER BY parent, payload::jsonb -> 'body' ->> 'reaction', ts DESC, id DESC`.execute(tx);
  await sql`
    INSERT INTO profiles (wallet, display_name, bio, avatar_url, ts, action_id)
    SELECT wallet, payload::jsonb -> 'body' ->> 'displayName', payload::jsonb -> 'body' ->> 'bio',
      payload::jsonb -> 'body' ->> 'avatarUrl', ts, id FROM actions
    WHERE wallet = ${wallet} AND kind = 'profile' AND NOT hidden
    ORDER BY ts DESC, id DESC LIMIT 1`.execute(tx);
}

/** Verifies an equivocation proof from anyone, stores it and revokes the session. */
export async function submitEquivocation(
  db: Kysely<Database>,
  grants: GrantCache,
  proof: EquivocationProof,
  backend: Ed25519Backend,
  now: number,
): Promise<{
  readonly id: string;
  readonly grant: string;
  readonly by: string;
  readonly duplicate: boolean;
}> {
  const grantId = (proof as { a?: { payload?: { grant?: unknown } } } | null)?.a?.payload?.grant;
  const grant = typeof grantId === "string" ? await grants.get(grantId) : undefined;
  if (grant === undefined) {
    throw new ProtocolError(ErrorCode.EQUIVOCATION_PROOF_INVALID, {
      reason: "the grant is unknown to this node",
    });
  }
  const verified = await verifyEquivocation(proof, grant, backend);
  const [first, second] = [verified.a, verified.b].sort((x, y) => (x.id < y.id ? -1 : 1)) as [
    typeof verified.a,
    typeof verified.b,
  ];
  const id = `${first.id}:${second.id}`;
  return await db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom("sessions")
      .select("state")
      .where("grant_id", "=", grant.id)
      .forUpdate()
      .executeTakeFirstOrThrow();
    await lockLog(tx);
    const inserted = await tx
      .insertInto("equivocations")
      .values({
        id,
        log_id: sql<number>`nextval('sesame_log')`,
        grant_id: grant.id,
        by: verified.by,
        action_a: JSON.stringify({ payload: first.payload, signature: first.signature }),
        action_b: JSON.stringify({ payload: second.payload, signature: second.signature }),
        received_at: now,
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .returning("log_id")
      .executeTakeFirst();
    const state = JSON.parse(row.state) as SessionState;
    const next = revokeForEquivocation(state, now);
    if (next !== state) await saveState(tx, grant.id, next, now);
    if (inserted !== undefined)
      await sql`SELECT pg_notify(${LOG_CHANNEL}, ${String(inserted.log_id)})`.execute(tx);
    return { id, grant: grant.id, by: verified.by, duplicate: inserted === undefined };
  });
}
