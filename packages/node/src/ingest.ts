import {
  type ActionId,
  type ActionPayload,
  applyAction,
  type Collisions,
  type Ed25519Backend,
  type ErrorBody,
  ErrorCode,
  isProtocolError,
  type PolicyOptions,
  ProtocolError,
  revokeForEquivocation,
  SCOPE_OF_KIND,
  type SessionState,
  type VerifiedAction,
  type VerifiedGrant,
  verifyAction,
} from "@sesame/protocol";
import { type Kysely, sql, type Transaction } from "kysely";
import { lockLog } from "./db/connect.js";
import type { Database } from "./db/schema.js";
import type { GrantCache } from "./grants.js";
import { saveState } from "./revocations.js";

export type ItemResult =
  | { readonly ok: true; readonly id: string; readonly logId: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly error: ErrorBody };

interface Pending {
  readonly action: VerifiedAction;
  readonly grant: VerifiedGrant;
  readonly resolve: (r: ItemResult) => void;
  readonly reject: (e: unknown) => void;
}

export interface IngestOptions {
  readonly policy?: PolicyOptions;
  /** Most actions one commit takes. */
  readonly maxBatch?: number;
  readonly clock?: () => number;
  /** Called with each committed batch's highest log id (the live stream's wake-up). */
  readonly onCommit?: (logId: number) => void;
}

function fail(e: ProtocolError): ItemResult {
  return { ok: false, error: e.toJSON() };
}

/** Verifies one wire action against its grant (stateless); a refusal becomes a result. */
export async function verifyWire(
  wire: unknown,
  grants: Map<string, VerifiedGrant>,
  backend: Ed25519Backend,
): Promise<VerifiedAction | ItemResult> {
  const grantId = (wire as { payload?: { grant?: unknown } } | null)?.payload?.grant;
  const grant = typeof grantId === "string" ? grants.get(grantId) : undefined;
  try {
    if (grant === undefined) {
      if (typeof grantId !== "string") {
        throw new ProtocolError(ErrorCode.INVALID_FIELD, {
          field: "payload.grant",
          reason: "is missing",
        });
      }
      throw new ProtocolError(ErrorCode.GRANT_UNKNOWN, { grantId: grantId.slice(0, 64) });
    }
    return await verifyAction(wire, grant, backend);
  } catch (e) {
    if (isProtocolError(e)) return fail(e);
    throw e;
  }
}

/** Which stored columns an action fills, for reads. */
function denormalise(
  p: ActionPayload,
  id: string,
): { parent: string | null; root: string | null; target: string | null } {
  switch (p.kind) {
    case "post":
      return { parent: null, root: id, target: null };
    case "reply":
      return { parent: p.body.parent, root: null, target: null };
    case "react":
    case "unreact":
      return { parent: p.body.target, root: null, target: null };
    case "follow":
    case "unfollow":
      return { parent: null, root: null, target: p.body.target };
    case "dm":
      return { parent: null, root: null, target: p.body.to };
    case "tip":
      return { parent: p.body.post, root: null, target: p.body.to };
    case "profile":
      return { parent: null, root: null, target: null };
  }
}

const UTF8 = new TextDecoder();
const ordKey = (grant: string, scope: string, ord: number) => `${grant}\u0000${scope}\u0000${ord}`;
const seqKey = (grant: string, seq: number) => `${grant}\u0000${seq}`;

/**
 * The write path. Actions are verified without the database, then queued; one commit at
 * a time takes everything queued (group commit): it locks the sessions' state rows,
 * looks up stored actions that share a sequence number or ordinal, runs the policy
 * engine's pure transition for each action in order, and stores the accepted actions,
 * the derived rows, the new states and any equivocation proofs in one transaction.
 * Each caller's promise settles only after that commit.
 */
export class Ingestor {
  readonly #queue: Pending[] = [];
  #running = false;
  readonly #clock: () => number;
  readonly #maxBatch: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly grants: GrantCache,
    private readonly backend: Ed25519Backend,
    private readonly options: IngestOptions = {},
  ) {
    this.#clock = options.clock ?? Date.now;
    this.#maxBatch = options.maxBatch ?? 2000;
  }

  /** Verifies and stores a batch; one result per item, in order. */
  async submit(items: readonly unknown[]): Promise<ItemResult[]> {
    const ids = items.map((w) => (w as { payload?: { grant?: unknown } } | null)?.payload?.grant);
    const grants = await this.grants.getMany(ids.filter((x): x is string => typeof x === "string"));
    const verified = await Promise.all(items.map((w) => verifyWire(w, grants, this.backend)));
    return await Promise.all(
      verified.map((v) => {
        if ("ok" in v) return v;
        const grant = grants.get(v.payload.grant) as VerifiedGrant;
        return this.enqueue(v, grant);
      }),
    );
  }

  enqueue(action: VerifiedAction, grant: VerifiedGrant): Promise<ItemResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ action, grant, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        try {
          const results = await this.#commit(batch);
          batch.forEach((p, i) => p.resolve(results[i] as ItemResult));
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #commit(batch: readonly Pending[]): Promise<ItemResult[]> {
    const now = this.#clock();
    const { results, maxLogId } = await this.db
      .transaction()
      .execute((tx) => this.#apply(tx, batch, now));
    if (maxLogId > 0) this.options.onCommit?.(maxLogId);
    return results;
  }

  async #apply(
    tx: Transaction<Database>,
    batch: readonly Pending[],
    now: number,
  ): Promise<{ results: ItemResult[]; maxLogId: number }> {
    const grantIds = [...new Set(batch.map((p) => p.grant.id))].sort();
    // Lock order is by grant id everywhere, so two processes never deadlock.
    const stateRows = await tx
      .selectFrom("sessions")
      .select(["grant_id", "state"])
      .where("grant_id", "in", grantIds)
      .orderBy("grant_id")
      .forUpdate()
      .execute();
    const states = new Map<string, SessionState>(
      stateRows.map((r) => [r.grant_id, JSON.parse(r.state)]),
    );
    const changed = new Set<string>();

    // Stored actions that collide with any incoming one on (grant, seq) or (grant, scope, ord).
    const collisionRows = (
      await sql<{
        id: string;
        grant_id: string;
        seq: number;
        scope: string;
        ord: number;
        log_id: number;
      }>`
        SELECT a.id, a.grant_id, a.seq, a.scope, a.ord, a.log_id
        FROM actions a
        JOIN unnest(
          ${batch.map((p) => p.grant.id)}::text[], ${batch.map((p) => p.action.payload.seq)}::int8[],
          ${batch.map((p) => SCOPE_OF_KIND[p.action.payload.kind])}::text[], ${batch.map((p) => p.action.payload.ord)}::int8[]
        ) AS v(g, s, sc, o)
          ON a.grant_id = v.g AND (a.seq = v.s OR (a.scope = v.sc AND a.ord = v.o))`.execute(tx)
    ).rows;
    const bySeq = new Map<string, { id: ActionId; logId: number }>();
    const byOrd = new Map<string, { id: ActionId; logId: number }>();
    for (const r of collisionRows) {
      bySeq.set(seqKey(r.grant_id, r.seq), { id: r.id as ActionId, logId: r.log_id });
      byOrd.set(ordKey(r.grant_id, r.scope, r.ord), { id: r.id as ActionId, logId: r.log_id });
    }

    const results: (ItemResult | null)[] = [];
    const accepted: Pending[] = [];
    const equivocations: { pending: Pending; existing: string; by: string }[] = [];
    for (const p of batch) {
      const payload = p.action.payload;
      const scope = SCOPE_OF_KIND[payload.kind];
      const state = states.get(p.grant.id);
      if (state === undefined) {
        results.push(fail(new ProtocolError(ErrorCode.GRANT_UNKNOWN, { grantId: p.grant.id })));
        continue;
      }
      const seqHit = bySeq.get(seqKey(p.grant.id, payload.seq));
      const ordHit = byOrd.get(ordKey(p.grant.id, scope, payload.ord));
      const collisions: Collisions = {
        bySequence: seqHit?.id ?? null,
        byOrdinal: ordHit?.id ?? null,
      };
      const r = applyAction(
        state,
        p.grant.grant,
        p.action,
        now,
        collisions as Collisions,
        this.options.policy,
      );
      if (r.ok) {
        if (r.value.duplicate) {
          // Stored before, or earlier in this batch (log id filled in after insert).
          results.push({ ok: true, id: p.action.id, logId: seqHit?.logId ?? -1, duplicate: true });
          continue;
        }
        states.set(p.grant.id, r.value.state);
        changed.add(p.grant.id);
        const entry = { id: p.action.id, logId: -1 };
        bySeq.set(seqKey(p.grant.id, payload.seq), entry);
        byOrd.set(ordKey(p.grant.id, scope, payload.ord), entry);
        accepted.push(p);
        results.push(null);
      } else {
        if (r.error.code === ErrorCode.EQUIVOCATION) {
          const ctx = r.error.context as { existing: string; by: string };
          equivocations.push({ pending: p, existing: ctx.existing, by: ctx.by });
          states.set(p.grant.id, revokeForEquivocation(state, now));
          changed.add(p.grant.id);
        }
        results.push(fail(r.error));
      }
    }

    if (accepted.length === 0 && equivocations.length === 0) {
      return { results: results as ItemResult[], maxLogId: 0 };
    }
    await lockLog(tx);
    let maxLogId = 0;
    const logIds = new Map<string, number>();
    if (accepted.length > 0) {
      const rows = await tx
        .insertInto("actions")
        .values(
          accepted.map((p) => {
            const a = p.action;
            const payload = a.payload;
            return {
              log_id: sql<number>`nextval('sesame_log')`,
              id: a.id,
              grant_id: p.grant.id,
              wallet: p.grant.grant.wallet,
              kind: payload.kind,
              scope: SCOPE_OF_KIND[payload.kind],
              seq: payload.seq,
              ord: payload.ord,
              ts: payload.ts,
              received_at: now,
              payload: UTF8.decode(a.bytes.subarray(a.bytes.indexOf(10) + 1)),
              signature: a.signature,
              ...denormalise(payload, a.id),
            };
          }),
        )
        .returning(["id", "log_id"])
        .execute();
      for (const r of rows) {
        logIds.set(r.id, r.log_id);
        if (r.log_id > maxLogId) maxLogId = r.log_id;
      }
      await this.#storeDerived(tx, accepted);
    }
    for (const e of equivocations) {
      const stored = await tx
        .selectFrom("actions")
        .select(["payload", "signature"])
        .where("id", "=", e.existing)
        .executeTakeFirst();
      const a =
        stored === undefined
          ? null
          : { payload: JSON.parse(stored.payload), signature: stored.signature };
      const b = { payload: e.pending.action.payload, signature: e.pending.action.signature };
      const row = await tx
        .insertInto("equivocations")
        .values({
          id: [e.existing, e.pending.action.id].sort().join(":"),
          log_id: sql<number>`nextval('sesame_log')`,
          grant_id: e.pending.grant.id,
          by: e.by,
          action_a: JSON.stringify(a),
          action_b: JSON.stringify(b),
          received_at: now,
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("log_id")
        .executeTakeFirst();
      if (row !== undefined && row.log_id > maxLogId) maxLogId = row.log_id;
    }
    for (const grantId of changed)
      await saveState(tx, grantId, states.get(grantId) as SessionState, now);
    await sql`SELECT pg_notify('sesame_log', ${String(maxLogId)})`.execute(tx);
    return {
      results: results.map((r, i) => {
        if (r !== null && !(r.ok && r.duplicate && r.logId === -1)) return r;
        const id = (batch[i] as Pending).action.id;
        return { ok: true, id, logId: logIds.get(id) ?? -1, duplicate: r !== null };
      }),
      maxLogId,
    };
  }

  /** Follows, reactions and profiles: last writer wins by (timestamp, action id). */
  async #storeDerived(tx: Transaction<Database>, accepted: readonly Pending[]): Promise<void> {
    const follows = new Map<
      string,
      { follower: string; target: string; following: boolean; ts: number; action_id: string }
    >();
    const reactions = new Map<
      string,
      {
        wallet: string;
        target: string;
        reaction: string;
        active: boolean;
        ts: number;
        action_id: string;
      }
    >();
    const profiles = new Map<
      string,
      {
        wallet: string;
        display_name: string;
        bio: string;
        avatar_url: string;
        ts: number;
        action_id: string;
      }
    >();
    const newer = (a: { ts: number; action_id: string } | undefined, ts: number, id: string) =>
      a === undefined || a.ts < ts || (a.ts === ts && a.action_id < id);
    for (const { action, grant } of accepted) {
      const p = action.payload;
      const wallet = grant.grant.wallet;
      if (p.kind === "follow" || p.kind === "unfollow") {
        const key = `${wallet}/${p.body.target}`;
        if (newer(follows.get(key), p.ts, action.id)) {
          follows.set(key, {
            follower: wallet,
            target: p.body.target,
            following: p.kind === "follow",
            ts: p.ts,
            action_id: action.id,
          });
        }
      } else if (p.kind === "react" || p.kind === "unreact") {
        const key = `${wallet}/${p.body.target}/${p.body.reaction}`;
        if (newer(reactions.get(key), p.ts, action.id)) {
          reactions.set(key, {
            wallet,
            target: p.body.target,
            reaction: p.body.reaction,
            active: p.kind === "react",
            ts: p.ts,
            action_id: action.id,
          });
        }
      } else if (p.kind === "profile") {
        if (newer(profiles.get(wallet), p.ts, action.id)) {
          profiles.set(wallet, {
            wallet,
            display_name: p.body.displayName,
            bio: p.body.bio,
            avatar_url: p.body.avatarUrl,
            ts: p.ts,
            action_id: action.id,
          });
        }
      }
    }
    const lww = sql`(EXCLUDED.ts, EXCLUDED.action_id)`;
    if (follows.size > 0) {
      await tx
        .insertInto("follows")
        .values([...follows.values()])
        .onConflict((oc) =>
          oc
            .columns(["follower", "target"])
            .doUpdateSet((eb) => ({
              following: eb.ref("excluded.following"),
              ts: eb.ref("excluded.ts"),
              action_id: eb.ref("excluded.action_id"),
            }))
            .where(sql<boolean>`(follows.ts, follows.action_id) < ${lww}`),
        )
        .execute();
    }
    if (reactions.size > 0) {
      await tx
        .insertInto("reactions")
        .values([...reactions.values()])
        .onConflict((oc) =>
          oc
            .columns(["target", "wallet", "reaction"])
            .doUpdateSet((eb) => ({
              active: eb.ref("excluded.active"),
              ts: eb.ref("excluded.ts"),
              action_id: eb.ref("excluded.action_id"),
            }))
            .where(sql<boolean>`(reactions.ts, reactions.action_id) < ${lww}`),
        )
        .execute();
    }
    if (profiles.size > 0) {
      await tx
        .insertInto("profiles")
        .values([...profiles.values()])
        .onConflict((oc) =>
          oc
            .column("wallet")
            .doUpdateSet((eb) => ({
              display_name: eb.ref("excluded.display_name"),
              bio: eb.ref("excluded.bio"),
              avatar_url: eb.ref("excluded.avatar_url"),
              ts: eb.ref("excluded.ts"),
              action_id: eb.ref("excluded.action_id"),
            }))
            .where(sql<boolean>`(profiles.ts, profiles.action_id) < ${lww}`),
        )
        .execute();
    }
  }
}
