import { SCOPE_OF_KIND } from "./action.js";
import { ErrorCode, ProtocolError } from "./errors.js";
import type { Grant, Scope } from "./grant.js";
import type { ActionId, GrantId } from "./ids.js";
import { err, ok, type Result } from "./result.js";
import type { Revocation } from "./revocation.js";
import type { VerifiedAction } from "./verify.js";

/** Per scope, receipt counts by whole minute (`[minute, count]`, oldest first), last hour only. */
export type RateBuckets = readonly (readonly [minute: number, count: number])[];

/**
 * Everything a node must remember about one session to enforce its grant. Small and
 * JSON-serialisable, so it is one row, locked for the transition.
 */
export interface SessionState {
  readonly grant: GrantId;
  readonly status: "active" | "revoked";
  /** Node time the session was revoked, or null. */
  readonly revokedAt: number | null;
  readonly revokedBy: "revocation" | "equivocation" | null;
  /** When set, what this node received from this time on is hidden from reads. */
  readonly compromisedSince: number | null;
  /** Highest sequence number accepted. */
  readonly maxSeq: number;
  /** Accepted actions per scope. */
  readonly used: Readonly<Partial<Record<Scope, number>>>;
  /** Highest ordinal accepted per scope. */
  readonly maxOrd: Readonly<Partial<Record<Scope, number>>>;
  readonly rates: Readonly<Partial<Record<Scope, RateBuckets>>>;
}

export interface PolicyOptions {
  /** How far ahead of the node's clock an action may be stamped. Default 60 s. */
  readonly maxFutureSkewMs?: number;
  /**
   * How long after the grant's expiration the node still accepts actions stamped inside
   * the window (delivery of an offline queue). Default 10 minutes. Without this bound a
   * key leaked after expiry could back-date actions into the window forever.
   */
  readonly lateGraceMs?: number;
  /**
   * Whether the hourly rate is checked and counted (default true). Rates are per node,
   * counted by when that node received an action from a client; a node applying an action
   * it learned from a peer (federation) passes false: the node that took it from the
   * client applied its rate, and the network-wide bound is the cap, by ordinal.
   */
  readonly enforceRates?: boolean;
}

export const POLICY_DEFAULTS = Object.freeze({ maxFutureSkewMs: 60_000, lateGraceMs: 10 * 60_000 });

const MINUTE = 60_000;
const WINDOW_MINUTES = 60;

export function initialSessionState(grant: GrantId): SessionState {
  return Object.freeze({
    grant,
    status: "active",
    revokedAt: null,
    revokedBy: null,
    compromisedSince: null,
    maxSeq: 0,
    used: Object.freeze({}),
    maxOrd: Object.freeze({}),
    rates: Object.freeze({}),
  });
}

/** The stored actions that share the incoming action's sequence number or scope ordinal. */
export interface Collisions {
  readonly bySequence: ActionId | null;
  readonly byOrdinal: ActionId | null;
}

export const NO_COLLISIONS: Collisions = Object.freeze({ bySequence: null, byOrdinal: null });

export interface Transition {
  readonly state: SessionState;
  /** True when this exact action was already accepted: nothing changes, the answer repeats. */
  readonly duplicate: boolean;
}

/** Actions received in the hour ending at `now` (minute granularity). */
export function countInLastHour(buckets: RateBuckets | undefined, now: number): number {
  if (buckets === undefined) return 0;
  const first = currentMinute(buckets, now) - WINDOW_MINUTES + 1;
  let n = 0;
  for (const [minute, count] of buckets) if (minute >= first) n += count;
  return n;
}

/**
 * The minute a receipt counts in: never earlier than the newest bucket, so a node clock
 * stepping back (NTP, or several processes on one database) can neither reorder the
 * buckets nor make the window forget receipts it already counted.
 */
function currentMinute(buckets: RateBuckets | undefined, now: number): number {
  const minute = Math.floor(now / MINUTE);
  const newest = buckets?.[buckets.length - 1]?.[0];
  return newest !== undefined && newest > minute ? newest : minute;
}

function addToBuckets(buckets: RateBuckets | undefined, now: number): RateBuckets {
  const minute = currentMinute(buckets, now);
  const first = minute - WINDOW_MINUTES + 1;
  const kept = (buckets ?? []).filter(([m]) => m >= first);
  const last = kept[kept.length - 1];
  if (last !== undefined && last[0] === minute) {
    return Object.freeze([...kept.slice(0, -1), Object.freeze([minute, last[1] + 1] as const)]);
  }
  return Object.freeze([...kept, Object.freeze([minute, 1] as const)]);
}

/**
 * The pure state transition for one verified action received at `now` (node clock, ms).
 * Checks, in order: the grant named, duplicates (idempotent), revocation, equivocation,
 * scope, time window, cap (by ordinal), hourly rate. Returns the new state, or the
 * refusal. On EQUIVOCATION the caller stores the proof and applies `revokeForEquivocation`.
 */
export function applyAction(
  state: SessionState,
  grant: Grant,
  action: VerifiedAction,
  now: number,
  collisions: Collisions = NO_COLLISIONS,
  options: PolicyOptions = {},
): Result<Transition> {
  const p = action.payload;
  if (p.grant !== state.grant) {
    return err(
      new ProtocolError(ErrorCode.WRONG_GRANT, { expected: state.grant, actual: p.grant }),
    );
  }
  if (collisions.bySequence === action.id) return ok({ state, duplicate: true });
  if (state.status === "revoked") {
    return err(
      new ProtocolError(ErrorCode.SESSION_REVOKED, {
        grantId: state.grant,
        revokedAt: state.revokedAt ?? 0,
      }),
    );
  }
  const conflict =
    collisions.bySequence !== null
      ? { existing: collisions.bySequence, by: "sequence" as const }
      : collisions.byOrdinal !== null && collisions.byOrdinal !== action.id
        ? { existing: collisions.byOrdinal, by: "ordinal" as const }
        : null;
  if (conflict !== null) {
    return err(
      new ProtocolError(ErrorCode.EQUIVOCATION, {
        sequence: p.seq,
        existing: conflict.existing,
        conflicting: action.id,
        by: conflict.by,
      }),
    );
  }
  const scope = SCOPE_OF_KIND[p.kind];
  const limit = grant.limits[scope];
  if (!grant.scopes.includes(scope) || limit === undefined) {
    return err(new ProtocolError(ErrorCode.SCOPE_NOT_GRANTED, { scope }));
  }
  const skew = options.maxFutureSkewMs ?? POLICY_DEFAULTS.maxFutureSkewMs;
  const grace = options.lateGraceMs ?? POLICY_DEFAULTS.lateGraceMs;
  if (p.ts > now + skew) {
    return err(
      new ProtocolError(ErrorCode.TIMESTAMP_IN_FUTURE, {
        timestamp: p.ts,
        at: now,
        maxSkewMs: skew,
      }),
    );
  }
  if (p.ts < grant.notBefore || p.ts >= grant.expirationTime) {
    return err(
      new ProtocolError(ErrorCode.OUTSIDE_WINDOW, {
        timestamp: p.ts,
        notBefore: grant.notBefore,
        expirationTime: grant.expirationTime,
      }),
    );
  }
  if (now >= grant.expirationTime + grace) {
    return err(
      new ProtocolError(ErrorCode.SESSION_EXPIRED, {
        grantId: state.grant,
        expirationTime: grant.expirationTime,
        at: now,
      }),
    );
  }
  if (limit.total !== null && p.ord > limit.total) {
    return err(new ProtocolError(ErrorCode.OVER_CAP, { scope, cap: limit.total, ordinal: p.ord }));
  }
  const rated = options.enforceRates !== false;
  if (
    rated &&
    limit.perHour !== null &&
    countInLastHour(state.rates[scope], now) >= limit.perHour
  ) {
    return err(new ProtocolError(ErrorCode.OVER_RATE, { scope, perHour: limit.perHour }));
  }
  const next: SessionState = Object.freeze({
    ...state,
    maxSeq: Math.max(state.maxSeq, p.seq),
    used: Object.freeze({ ...state.used, [scope]: (state.used[scope] ?? 0) + 1 }),
    maxOrd: Object.freeze({ ...state.maxOrd, [scope]: Math.max(state.maxOrd[scope] ?? 0, p.ord) }),
    rates: rated
      ? Object.freeze({ ...state.rates, [scope]: addToBuckets(state.rates[scope], now) })
      : state.rates,
  });
  return ok({ state: next, duplicate: false });
}

/** Revokes a session after a proven equivocation. */
export function revokeForEquivocation(state: SessionState, now: number): SessionState {
  if (state.status === "revoked") return state;
  return Object.freeze({ ...state, status: "revoked", revokedAt: now, revokedBy: "equivocation" });
}

/**
 * Applies a verified revocation to a session it covers. Revoking twice keeps the first
 * time; a later "compromised since" can only move the hiding point earlier.
 */
export function applyRevocation(
  state: SessionState,
  revocation: Revocation,
  now: number,
): SessionState {
  const since = revocation.compromisedSince;
  const compromisedSince =
    since === null ? state.compromisedSince : Math.min(since, state.compromisedSince ?? since);
  if (state.status === "revoked") {
    return compromisedSince === state.compromisedSince
      ? state
      : Object.freeze({ ...state, compromisedSince });
  }
  return Object.freeze({
    ...state,
    status: "revoked",
    revokedAt: now,
    revokedBy: "revocation",
    compromisedSince,
  });
}

/** Is a grant still usable at `now`, before any action? (registration and session lists) */
export function grantTimeStatus(
  grant: Grant,
  now: number,
  options: PolicyOptions = {},
): "pending" | "live" | "expired" {
  const skew = options.maxFutureSkewMs ?? POLICY_DEFAULTS.maxFutureSkewMs;
  if (now + skew < grant.notBefore) return "pending";
  return now >= grant.expirationTime ? "expired" : "live";
}
