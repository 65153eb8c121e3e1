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
import { LOG_CHANNEL, LOG_LOCK, lockLog } from "./db/connect.js";
import type { Database } from "./db/schema.js";
import type { GrantCache } from "./grants.js";
import type { TipCheck } from "./tips.js";

export type ItemResult =
  | { readonly ok: true; readonly id: string; readonly logId: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly error: ErrorBody };

interface Pending {
  readonly action: VerifiedAction;
  readonly grant: VerifiedGrant;
  /** Learned from a peer (federation): the peer policy applies (see `IngestOptions`). */
  readonly peer: boolean;
  readonly resolve: (r: ItemResult) => void;
  readonly reject: (e: unknown) => void;
  readonly ticket?: SubmitTicket | undefined;
}

/**
 * What a caller learns about its submit while it waits: whether any of its actions has
 * been taken into a commit (from then on its outcome is the commit's).
 */
export interface SubmitTicket {
  committing: boolean;
}

export interface SubmitOptions {
  /**
   * Aborting withdraws the actions still queued (they get 6004 REQUEST_TIMEOUT results and
   * are certainly not stored); actions already taken into a commit keep their course.
   */
  readonly signal?: AbortSignal | undefined;
  readonly ticket?: SubmitTicket | undefined;
  /** The deadline, for the context of the 6004 results of withdrawn actions. */
  readonly timeoutMs?: number | undefined;
  /** The items come from a peer's log, not from a client. */
  readonly peer?: boolean;
}

export interface IngestOptions {
  readonly policy?: PolicyOptions;
  /** Most actions one commit takes. */
  readonly maxBatch?: number;
  /**
   * Longest a commit waits for actions that arrived before it but are still being
   * verified (ms; default 2, 0 never waits). Bigger commits cost less per action, but
   * while a commit waits the database idles: on PostgreSQL 1-2 ms took 15-20 % more
   * actions per second than 10 ms, and 0 less (`npm run bench -- ingest`, DECISIONS.md).
   */
  readonly lingerMs?: number;
  readonly clock?: () => number;
  /** Called with each committed batch's highest log id (the live stream's wake-up). */
  readonly onCommit?: (logId: number) => void;
  /** Checks tips against the chain before they are queued (the funds tier). */
  readonly tipCheck?: TipCheck;
  /**
   * For actions learned from a peer: how long after the grant's expiration they are still
   * accepted when stamped inside its window (a node catching up after a partition).
   * Default: `PEER_LATE_GRACE_MS`. Peer actions are not rate-limited again (rates are per
   * node of first receipt); everything else is checked exactly as for a client.
   */
  readonly peerLateGraceMs?: number;
}

/** Default late grace for actions a node learns from peers: one day. */
export const PEER_LATE_GRACE_MS = 24 * 60 * 60_000;

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
  readonly #lingerMs: number;
  /** One promise per submit whose actions are being verified; settles once they are queued. */
  readonly #verifying = new Set<Promise<void>>();
  readonly #peerPolicy: PolicyOptions;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly grants: GrantCache,
    private readonly backend: Ed25519Backend,
    private readonly options: IngestOptions = {},
  ) {
    this.#clock = options.clock ?? Date.now;
    this.#maxBatch = options.maxBatch ?? 2000;
    this.#lingerMs = options.lingerMs ?? 2;
    this.#peerPolicy = {
      ...options.policy,
      lateGraceMs: options.peerLateGraceMs ?? PEER_LATE_GRACE_MS,
      enforceRates: false,
    };
  }

  /** Verifies and stores a batch; one result per item, in order. */
  async submit(items: readonly unknown[], options: SubmitOptions = {}): Promise<ItemResult[]> {
    const ids = items.map((w) => (w as { payload?: { grant?: unknown } } | null)?.payload?.grant);
    const grants = await this.grants.getMany(ids.filter((x): x is string => typeof x === "string"));
    // While these are being verified, a commit about to start may wait for them (#drain).
    let landed = () => {};
    const landing = new Promise<void>((resolve) => {
      landed = resolve;
    });
    this.#verifying.add(landing);
    let verified: (VerifiedAction | ItemResult)[];
    try {
      verified = await Promise.all(items.map((w) => verifyWire(w, grants, this.backend)));
    } catch (e) {
      landed();
      throw e;
    } finally {
      this.#verifying.delete(landing);
    }
    const results = Promise.all(
      verified.map(async (v) => {
        if ("ok" in v) return v;
        const grant = grants.get(v.payload.grant) as VerifiedGrant;
        if (v.payload.kind === "tip") {
          const refusal = await (this.options.tipCheck?.(v, grant) ??
            Promise.resolve(
              new ProtocolError(ErrorCode.UNAVAILABLE, {
                reason: "this node does not verify tips",
              }),
            ));
          if (refusal !== null) return fail(refusal);
        }
        return this.enqueue(v, grant, options);
      }),
    );
    // Everything verified is queued by now (tips after their check).
    landed();
    return await results;
  }

  enqueue(
    action: VerifiedAction,
    grant: VerifiedGrant,
    options: SubmitOptions = {},
  ): Promise<ItemResult> {
    const { signal, ticket, timeoutMs = 0, peer = false } = options;
    return new Promise((resolve, reject) => {
      const timedOut = () => fail(new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs }));
      if (signal?.aborted) return resolve(timedOut());
      const pending: Pending = { action, grant, peer, resolve, reject, ticket };
      this.#queue.push(pending);
      // Withdrawn while still queued: no commit has it, so it is certainly not stored.
      signal?.addEventListener(
        "abort",
        () => {
          const at = this.#queue.indexOf(pending);
          if (at >= 0) {
            this.#queue.splice(at, 1);
            resolve(timedOut());
          }
        },
        { once: true },
      );
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        // Group commit: when requests that already arrived are still being verified, wait
        // (briefly) for them, so one commit takes them all instead of a thin slice.
        if (this.#lingerMs > 0 && this.#verifying.size > 0 && this.#queue.length < this.#maxBatch) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            Promise.all([...this.#verifying]),
            new Promise<void>((resolve) => {
              timer = setTimeout(resolve, this.#lingerMs);
            }),
          ]);
          clearTimeout(timer);
        }
        const batch = this.#queue.splice(0, this.#maxBatch);
        for (const p of batch) if (p.ticket !== undefined) p.ticket.committing = true;
        try {
          const results = await this.#commit(batch);
          for (const [i, p] of batch.entries()) p.resolve(results[i] as ItemResult);
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
    // Every stored action of a session counts in its state's maxSeq and maxOrd, so only an
    // action at or below those can collide: the usual in-order stream skips this query.
    const probe = batch.filter((p) => {
      const state = states.get(p.grant.id);
      if (state === undefined) return false;
      const ords = state.maxOrd as Record<string, number | undefined> | undefined;
      const maxOrd = ords?.[SCOPE_OF_KIND[p.action.payload.kind]] ?? 0;
      return (
        typeof state.maxSeq !== "number" ||
        typeof maxOrd !== "number" ||
        p.action.payload.seq <= state.maxSeq ||
        p.action.payload.ord <= maxOrd
      );
    });
    const collisionRows =
      probe.length === 0
        ? []
        : (
            await sql<{
              id: string;
              grant_id: string;
              seq: number;
              scope: string;
              ord: number;
              log_id: number;
            }>`
        SELECT a.id, a.grant_id, a.seq, a.scope, a.ord, a.log_id
        FROM unnest(
          ${probe.map((p) => p.grant.id)}::text[], ${probe.map((p) => p.action.payload.seq)}::int8[],
          ${probe.map((p) => SCOPE_OF_KIND[p.action.payload.kind])}::text[], ${probe.map((p) => p.action.payload.ord)}::int8[]
        ) AS v(g, s, sc, o)
        JOIN actions a ON a.grant_id = v.g AND a.seq = v.s
        UNION
        SELECT a.id, a.grant_id, a.seq, a.scope, a.ord, a.log_id
        FROM unnest(
          ${probe.map((p) => p.grant.id)}::text[], ${probe.map((p) => SCOPE_OF_KIND[p.action.payload.kind])}::text[],
          ${probe.map((p) => p.action.payload.ord)}::int8[]
        ) AS v(g, sc, o)
        JOIN actions a ON a.grant_id = v.g AND a.scope = v.sc AND a.ord = v.o`.execute(tx)
          ).rows;
    const bySeq = new Map<string, { id: ActionId; logId: number }>();
    const byOrd = new Map<string, { id: ActionId; logId: number }>();
    for (const r of collisionRows) {
      bySeq.set(seqKey(r.grant_id, r.seq), { id: r.id as ActionId, logId: r.log_id });
      byOrd.set(ordKey(r.grant_id, r.scope, r.ord), { id: r.id as ActionId, logId: r.log_id });
    }

    // A Solana transaction backs at most one tip: stored ones, and earlier ones in this batch.
    const usedTips = new Map<string, string>();
    const tipSignatures = batch.flatMap((p) =>
      p.action.payload.kind === "tip" ? [p.action.payload.body.transaction as string] : [],
    );
    if (tipSignatures.length > 0) {
      const rows = await tx
        .selectFrom("tip_transactions")
        .select(["signature", "action_id"])
        .where("signature", "in", tipSignatures)
        .execute();
      for (const r of rows) usedTips.set(r.signature, r.action_id);
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
      if (payload.kind === "tip") {
        const usedBy = usedTips.get(payload.body.transaction);
        if (usedBy !== undefined && usedBy !== p.action.id) {
          results.push(
            fail(
              new ProtocolError(ErrorCode.TIP_REUSED, {
                signature: payload.body.transaction,
                usedBy,
              }),
            ),
          );
          continue;
        }
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
        p.peer ? this.#peerPolicy : this.options.policy,
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
        if (payload.kind === "tip") usedTips.set(payload.body.transaction, p.action.id);
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
    // The common case is one statement: actions, follows, reactions, profiles, session
    // states and the NOTIFY. With equivocations, their proofs are stored after the
    // actions (a proof may name an action accepted earlier in this batch), then NOTIFY.
    const withProofs = equivocations.length > 0;
    if (withProofs) await lockLog(tx);
    const logIds = new Map<string, number>();
    let maxLogId = 0;
    for (const r of await this.#write(tx, accepted, changed, states, now, !withProofs)) {
      if (r.id === null) continue;
      logIds.set(r.id, r.log_id);
      if (r.log_id > maxLogId) maxLogId = r.log_id;
    }
    const tips = accepted.flatMap(({ action }) =>
      action.payload.kind === "tip"
        ? [{ signature: action.payload.body.transaction as string, action_id: action.id }]
        : [],
    );
    if (tips.length > 0) await tx.insertInto("tip_transactions").values(tips).execute();
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
    if (withProofs) await sql`SELECT pg_notify(${LOG_CHANNEL}, ${String(maxLogId)})`.execute(tx);
    return {
      results: results.map((r, i) => {
        if (r !== null && !(r.ok && r.duplicate && r.logId === -1)) return r;
        const id = (batch[i] as Pending).action.id;
        return { ok: true, id, logId: logIds.get(id) ?? -1, duplicate: r !== null };
      }),
      maxLogId,
    };
  }

  /**
   * Stores the accepted actions (log ids from the sequence, under the log lock), the rows
   * they derive (follows, reactions, profiles: last writer wins by timestamp, then action
   * id), and the changed session states, in one statement; each table's rows travel as
   * one JSON parameter. Returns each action's log id, and with `notify` one more row
   * (id null) after sending the NOTIFY for the highest.
   */
  async #write(
    tx: Transaction<Database>,
    accepted: readonly Pending[],
    changed: ReadonlySet<string>,
    states: ReadonlyMap<string, SessionState>,
    now: number,
    notify: boolean,
  ): Promise<{ id: string | null; log_id: number }[]> {
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
    // Each table's rows travel as one JSON array of arrays (jsonb): one native
    // JSON.stringify here, one parse in the server, no per-value escaping in the driver.
    const actionRows = accepted.map(({ action, grant }) => {
      const p = action.payload;
      const d = denormalise(p, action.id);
      return [
        action.id,
        grant.id,
        grant.grant.wallet,
        p.kind,
        SCOPE_OF_KIND[p.kind],
        p.seq,
        p.ord,
        p.ts,
        // The canonical JSON exactly as signed: the bytes after the prefix's newline.
        UTF8.decode(action.bytes.subarray(action.bytes.indexOf(10) + 1)),
        action.signature,
        d.parent,
        d.root,
        d.target,
      ];
    });
    const stateRows = [...changed].map((id) => {
      const s = states.get(id) as SessionState;
      return [id, JSON.stringify(s), s.status, s.revokedAt, s.revokedBy, s.compromisedSince];
    });
    const rowsOf = <T>(m: Map<string, T>, cols: readonly (keyof T)[]) =>
      [...m.values()].map((r) => cols.map((c) => r[c]));
    const json = (rows: readonly unknown[]) =>
      sql`jsonb_array_elements(${JSON.stringify(rows)}::jsonb)`;
    const { rows } = await sql<{ id: string | null; log_id: number }>`
      WITH lk AS MATERIALIZED (SELECT pg_advisory_xact_lock(${sql.lit(LOG_LOCK)})),
      ins AS (
        INSERT INTO actions (log_id, id, grant_id, wallet, kind, scope, seq, ord, ts, received_at,
          payload, signature, parent, root, target)
        SELECT nextval('sesame_log'), r->>0, r->>1, r->>2, r->>3, r->>4, (r->>5)::int8,
          (r->>6)::int8, (r->>7)::int8, ${now}::int8, r->>8, r->>9, r->>10, r->>11, r->>12
        FROM lk, ${json(actionRows)} AS r
        RETURNING id, log_id
      ),
      st AS (
        UPDATE sessions AS s SET state = r->>1, status = r->>2, revoked_at = (r->>3)::int8,
          revoked_by = r->>4, compromised_since = (r->>5)::int8, updated_at = ${now}::int8
        FROM ${json(stateRows)} AS r
        WHERE s.grant_id = r->>0
      ),
      fo AS (
        INSERT INTO follows (follower, target, following, ts, action_id)
        SELECT r->>0, r->>1, (r->>2)::boolean, (r->>3)::int8, r->>4
        FROM ${json(rowsOf(follows, ["follower", "target", "following", "ts", "action_id"]))} AS r
        ON CONFLICT (follower, target) DO UPDATE
          SET following = EXCLUDED.following, ts = EXCLUDED.ts, action_id = EXCLUDED.action_id
          WHERE (follows.ts, follows.action_id) < (EXCLUDED.ts, EXCLUDED.action_id)
      ),
      re AS (
        INSERT INTO reactions (wallet, target, reaction, active, ts, action_id)
        SELECT r->>0, r->>1, r->>2, (r->>3)::boolean, (r->>4)::int8, r->>5
        FROM ${json(rowsOf(reactions, ["wallet", "target", "reaction", "active", "ts", "action_id"]))} AS r
        ON CONFLICT (target, wallet, reaction) DO UPDATE
          SET active = EXCLUDED.active, ts = EXCLUDED.ts, action_id = EXCLUDED.action_id
          WHERE (reactions.ts, reactions.action_id) < (EXCLUDED.ts, EXCLUDED.action_id)
      ),
      pr AS (
        INSERT INTO profiles (wallet, display_name, bio, avatar_url, ts, action_id)
        SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::int8, r->>5
        FROM ${json(rowsOf(profiles, ["wallet", "display_name", "bio", "avatar_url", "ts", "action_id"]))} AS r
        ON CONFLICT (wallet) DO UPDATE
          SET display_name = EXCLUDED.display_name, bio = EXCLUDED.bio,
            avatar_url = EXCLUDED.avatar_url, ts = EXCLUDED.ts, action_id = EXCLUDED.action_id
          WHERE (profiles.ts, profiles.action_id) < (EXCLUDED.ts, EXCLUDED.action_id)
      )
      SELECT id, log_id FROM ins
      ${
        notify
          ? sql`UNION ALL
      SELECT NULL, length(pg_notify(${LOG_CHANNEL},
        coalesce((SELECT max(log_id) FROM ins), 0)::text)::text)::int8`
          : sql``
      }`.execute(tx);
    return rows;
  }
}
