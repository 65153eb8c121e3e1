import {
  type Ed25519Backend,
  ErrorCode,
  type GrantId,
  grantTimeStatus,
  initialSessionState,
  isCanonicalPointEncoding,
  isGrantId,
  isSmallOrderEncoding,
  POLICY_DEFAULTS,
  type PolicyOptions,
  ProtocolError,
  restoreVerifiedGrant,
  type SessionState,
  type Signature,
  type SignedGrant,
  type VerifiedGrant,
  type VerifyContext,
  verifyGrant,
} from "@sesame/protocol";
import type { Chain } from "@sesame/solana";
import type { Kysely } from "kysely";
import { LOG_CHANNEL, lockLog } from "./db/connect.js";
import type { Database } from "./db/schema.js";

/** An LRU of verified grants: the ingest path looks one up for every action. */
export class GrantCache {
  readonly #entries = new Map<string, VerifiedGrant>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly capacity = 100_000,
  ) {}

  remember(grant: VerifiedGrant): void {
    this.#entries.delete(grant.id);
    this.#entries.set(grant.id, grant);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  /** The grants with these ids that this node has stored (missing ones are absent). */
  async getMany(ids: Iterable<string>): Promise<Map<string, VerifiedGrant>> {
    const found = new Map<string, VerifiedGrant>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const hit = this.#entries.get(id);
      if (hit !== undefined) found.set(id, hit);
      else if (isGrantId(id)) missing.push(id);
    }
    if (missing.length > 0) {
      const rows = await this.db
        .selectFrom("grants")
        .select(["text", "signature", "form"])
        .where("id", "in", missing)
        .execute();
      for (const row of rows) {
        const grant = restoreVerifiedGrant({
          text: row.text,
          signature: row.signature as Signature,
          form: row.form as "message" | "transaction",
        });
        this.remember(grant);
        found.set(grant.id, grant);
      }
    }
    return found;
  }

  async get(id: string): Promise<VerifiedGrant | undefined> {
    return (await this.getMany([id])).get(id);
  }
}

/** How a grant learned from a peer is checked differently from a client's. */
export interface PeerGrantOptions {
  /** Accepted until this long after its expiration (its actions may still arrive late). */
  readonly lateGraceMs: number;
}

export interface GrantRegistration {
  readonly id: GrantId;
  readonly wallet: string;
  readonly status: "pending" | "live" | "expired";
  /** True when this node already had the grant: the same answer, stored once. */
  readonly duplicate: boolean;
  readonly logId: number;
}

/**
 * Verifies and stores a grant with its fresh session state, in one transaction. Refuses
 * grants that are expired, issued in the future, covered by a stored revocation, or that
 * reuse a session key.
 */
export async function registerGrant(
  db: Kysely<Database>,
  cache: GrantCache,
  signed: SignedGrant,
  context: VerifyContext,
  backend: Ed25519Backend,
  now: number,
  policy: PolicyOptions = {},
  chain?: Pick<Chain, "getTransaction">,
  peer?: PeerGrantOptions,
): Promise<GrantRegistration> {
  const verified = await verifyGrant(signed, context, backend);
  const g = verified.grant;
  // A session key no strict verifier accepts would make a session that can never act,
  // and one that lax verifiers elsewhere would let anyone forge for: refuse it up front.
  if (isSmallOrderEncoding(verified.sessionKeyBytes)) {
    throw new ProtocolError(ErrorCode.SMALL_ORDER_PUBLIC_KEY, { publicKey: g.sessionKey });
  }
  if (!isCanonicalPointEncoding(verified.sessionKeyBytes)) {
    throw new ProtocolError(ErrorCode.NON_CANONICAL_PUBLIC_KEY, { publicKey: g.sessionKey });
  }
  if (verified.form === "transaction") {
    // A funded session's grant is live only once its START transaction has landed.
    if (chain === undefined) {
      throw new ProtocolError(ErrorCode.UNAVAILABLE, {
        reason: "this node has no chain access to check funded sessions",
      });
    }
    const landed = await chain.getTransaction(verified.signature as string as never);
    if (landed === null || landed.err !== null) {
      throw new ProtocolError(ErrorCode.TIP_NOT_ON_CHAIN, { signature: verified.signature });
    }
  }
  const skew = policy.maxFutureSkewMs ?? POLICY_DEFAULTS.maxFutureSkewMs;
  if (g.issuedAt > now + skew) {
    throw new ProtocolError(ErrorCode.GRANT_ISSUED_IN_FUTURE, { issuedAt: g.issuedAt, at: now });
  }
  const timeStatus = grantTimeStatus(g, now, policy);
  if (
    timeStatus === "expired" &&
    (peer === undefined || now >= g.expirationTime + peer.lateGraceMs)
  ) {
    throw new ProtocolError(ErrorCode.GRANT_EXPIRED, { expirationTime: g.expirationTime, at: now });
  }
  const result = await db.transaction().execute(async (tx) => {
    const existing = await tx
      .selectFrom("grants")
      .select(["id", "log_id"])
      .where((eb) => eb.or([eb("id", "=", verified.id), eb("session_key", "=", g.sessionKey)]))
      .executeTakeFirst();
    if (existing !== undefined) {
      if (existing.id !== verified.id) {
        throw new ProtocolError(ErrorCode.INVALID_FIELD, {
          field: "sessionKey",
          reason: "this session key belongs to another grant; session keys are never reused",
        });
      }
      return { logId: existing.log_id, duplicate: true };
    }
    const revoked = await tx
      .selectFrom("revocations")
      .select(["id", "received_at"])
      .where("wallet", "=", g.wallet)
      .where((eb) =>
        eb.or([eb("target_grant", "=", verified.id), eb("issued_before", ">", g.issuedAt)]),
      )
      .executeTakeFirst();
    if (revoked !== undefined && peer === undefined) {
      throw new ProtocolError(ErrorCode.GRANT_REVOKED, {
        grantId: verified.id,
        revokedAt: revoked.received_at,
      });
    }
    // A peer's grant that a stored revocation covers is kept (every node then holds the
    // same grants), with its session revoked from the start.
    const fresh = initialSessionState(verified.id);
    const initial: SessionState =
      revoked === undefined
        ? fresh
        : { ...fresh, status: "revoked", revokedAt: now, revokedBy: "revocation" };
    await lockLog(tx);
    const { log_id } = await tx
      .insertInto("grants")
      .values((eb) => ({
        id: verified.id,
        log_id: eb.fn<number>("nextval", [eb.val("sesame_log")]),
        wallet: g.wallet,
        session_key: g.sessionKey,
        encryption_key: g.encryptionKey,
        domain: g.domain,
        device: g.device,
        scopes: g.scopes.join(","),
        text: verified.text,
        signature: verified.signature,
        form: verified.form,
        transaction: "transaction" in signed ? signed.transaction : null,
        issued_at: g.issuedAt,
        not_before: g.notBefore,
        expiration_time: g.expirationTime,
        received_at: now,
      }))
      .returning("log_id")
      .executeTakeFirstOrThrow();
    await tx
      .insertInto("sessions")
      .values({
        grant_id: verified.id,
        wallet: g.wallet,
        state: JSON.stringify(initial),
        status: initial.status,
        revoked_at: initial.revokedAt,
        revoked_by: initial.revokedBy,
        compromised_since: null,
        updated_at: now,
      })
      .execute();
    await tx
      .selectNoFrom((eb) => eb.fn("pg_notify", [LOG_CHANNEL, eb.val(String(log_id))]).as("n"))
      .execute();
    return { logId: log_id, duplicate: false };
  });
  cache.remember(verified);
  return Object.freeze({
    id: verified.id,
    wallet: g.wallet,
    status: timeStatus,
    duplicate: result.duplicate,
    logId: result.logId,
  });
}
