import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY, HOUR, makeGrant, signAction, T0, testNonce } from "../scripts/fixtures.js";
import {
  type ActionId,
  type ActionKind,
  applyAction,
  applyRevocation,
  type Collisions,
  countInLastHour,
  ErrorCode,
  type Grant,
  grantIdOf,
  grantTimeStatus,
  initialSessionState,
  NO_COLLISIONS,
  POLICY_DEFAULTS,
  type Revocation,
  revokeForEquivocation,
  SCOPE_OF_KIND,
  type Scope,
  type SessionState,
  type Transition,
  type VerifiedAction,
  verifyAction,
  type WalletAddress,
} from "../src/index.js";
import type { Result } from "../src/result.js";
import { backend, bodyOf, payloadOf, verifiedAction, verifiedGrant } from "./helpers.js";

const MINUTE = 60_000;
const f = makeGrant();
const grant = f.grant;
const gid = grantIdOf(grant);
const EXP = grant.expirationTime;

function action(
  over: { kind?: ActionKind; seq?: number; ord?: number; ts?: number; n?: number } = {},
): VerifiedAction {
  const kind = over.kind ?? "post";
  const body =
    kind === "post" ? { ...bodyOf("post"), text: `post ${over.n ?? over.seq ?? 1}` } : bodyOf(kind);
  return verifiedAction(
    payloadOf(
      { kind, seq: over.seq ?? 1, ord: over.ord ?? 1, ts: over.ts ?? T0 + 1000, body },
      gid,
    ),
  );
}

function accepted(r: Result<Transition>): SessionState {
  if (!r.ok) throw new Error(`refused: ${r.error.message}`);
  expect(r.value.duplicate).toBe(false);
  return r.value.state;
}

function refusal(r: Result<Transition>, code: ErrorCode) {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error("accepted");
  expect(r.error.code).toBe(code);
  return r.error;
}

const fresh = () => initialSessionState(gid);

const revocation = (compromisedSince: number | null): Revocation => ({
  version: 1,
  wallet: f.wallet.address as WalletAddress,
  network: "sesame-test",
  target: { kind: "grant", grant: gid },
  compromisedSince,
  issuedAt: T0 + HOUR,
  nonce: testNonce("r"),
});

describe("initialSessionState", () => {
  it("starts active, empty and frozen", () => {
    const s = fresh();
    expect(s).toEqual({
      grant: gid,
      status: "active",
      revokedAt: null,
      revokedBy: null,
      compromisedSince: null,
      maxSeq: 0,
      used: {},
      maxOrd: {},
      rates: {},
    });
    expect(Object.isFrozen(s)).toBe(true);
  });
});

describe("applyAction accepts", () => {
  it("a verified action, updating counts, ordinals, sequence and rate buckets", async () => {
    const s = await verifiedGrant();
    const signed = signAction(
      s.session,
      payloadOf({ seq: 3, ord: 2, ts: T0 + 1000 }, s.verified.id),
    );
    const v = await verifyAction(signed, s.verified, backend);
    const before = initialSessionState(s.verified.id);
    const after = accepted(applyAction(before, s.grant, v, T0 + 2 * MINUTE + 5));
    expect(after.maxSeq).toBe(3);
    expect(after.used).toEqual({ post: 1 });
    expect(after.maxOrd).toEqual({ post: 2 });
    expect(after.rates).toEqual({ post: [[Math.floor((T0 + 2 * MINUTE) / MINUTE), 1]] });
    expect(Object.isFrozen(after)).toBe(true);
    expect(before).toEqual(initialSessionState(s.verified.id));
  });

  it("counts unreact against react and unfollow against follow", () => {
    let s = accepted(
      applyAction(fresh(), grant, action({ kind: "react", seq: 1, ord: 1 }), T0 + 1000),
    );
    s = accepted(applyAction(s, grant, action({ kind: "unreact", seq: 2, ord: 2 }), T0 + 1000));
    s = accepted(applyAction(s, grant, action({ kind: "unfollow", seq: 3, ord: 1 }), T0 + 1000));
    expect(s.used).toEqual({ react: 2, follow: 1 });
    expect(s.maxSeq).toBe(3);
  });

  it("keeps the highest seq and ordinal when actions arrive out of order", () => {
    let s = accepted(applyAction(fresh(), grant, action({ seq: 5, ord: 5 }), T0 + 1000));
    s = accepted(applyAction(s, grant, action({ seq: 2, ord: 2 }), T0 + 1000));
    expect(s.maxSeq).toBe(5);
    expect(s.maxOrd.post).toBe(5);
    expect(s.used.post).toBe(2);
  });
});

describe("applyAction refuses", () => {
  it("an action for another session with 4009", () => {
    const other = initialSessionState(grantIdOf(makeGrant("alice", "s2").grant));
    const e = refusal(applyAction(other, grant, action(), T0 + 1000), ErrorCode.WRONG_GRANT);
    expect(e.context).toEqual({ expected: other.grant, actual: gid });
  });

  it("any new action of a revoked session with 4007", () => {
    const s = applyRevocation(fresh(), revocation(null), T0 + 5000);
    const e = refusal(applyAction(s, grant, action(), T0 + 6000), ErrorCode.SESSION_REVOKED);
    expect(e.context).toEqual({ grantId: gid, revokedAt: T0 + 5000 });
  });

  it("a second action with a stored action's seq as equivocation by sequence, 4006", () => {
    const a = action({ seq: 1, ord: 1 });
    const s = accepted(applyAction(fresh(), grant, a, T0 + 1000));
    const b = action({ seq: 1, ord: 2, n: 99 });
    const e = refusal(
      applyAction(s, grant, b, T0 + 2000, { bySequence: a.id, byOrdinal: null }),
      ErrorCode.EQUIVOCATION,
    );
    expect(e.context).toEqual({ sequence: 1, existing: a.id, conflicting: b.id, by: "sequence" });
  });

  it("a second action with a stored action's scope ordinal as equivocation by ordinal, 4006", () => {
    const a = action({ seq: 1, ord: 1 });
    const s = accepted(applyAction(fresh(), grant, a, T0 + 1000));
    const b = action({ seq: 2, ord: 1, n: 99 });
    const e = refusal(
      applyAction(s, grant, b, T0 + 2000, { bySequence: null, byOrdinal: a.id }),
      ErrorCode.EQUIVOCATION,
    );
    expect(e.context).toMatchObject({ existing: a.id, conflicting: b.id, by: "ordinal" });
  });

  it("an action of a scope the grant does not hold with 4001", () => {
    const narrow = makeGrant("alice", "alice-session-1", {
      scopes: ["post"],
      limits: { post: { total: 5, perHour: null } },
      tipBudget: null,
    }).grant;
    const s = initialSessionState(grantIdOf(narrow));
    const a = verifiedAction(payloadOf({ kind: "follow", ts: T0 + 1 }, grantIdOf(narrow)));
    const e = refusal(applyAction(s, narrow, a, T0 + 1000), ErrorCode.SCOPE_NOT_GRANTED);
    expect(e.context).toEqual({ scope: "follow" });
  });

  it("a timestamp beyond the allowed skew with 4004, and accepts one at the skew", () => {
    const now = T0 + HOUR;
    accepted(applyAction(fresh(), grant, action({ ts: now + 60_000 }), now));
    const e = refusal(
      applyAction(fresh(), grant, action({ ts: now + 60_001 }), now),
      ErrorCode.TIMESTAMP_IN_FUTURE,
    );
    expect(e.context).toEqual({ timestamp: now + 60_001, at: now, maxSkewMs: 60_000 });
    refusal(
      applyAction(fresh(), grant, action({ ts: now + 1001 }), now, NO_COLLISIONS, {
        maxFutureSkewMs: 1000,
      }),
      ErrorCode.TIMESTAMP_IN_FUTURE,
    );
    expect(POLICY_DEFAULTS.maxFutureSkewMs).toBe(60_000);
  });

  it("a timestamp outside the grant's window with 4005", () => {
    const e = refusal(
      applyAction(fresh(), grant, action({ ts: T0 - 1 }), T0),
      ErrorCode.OUTSIDE_WINDOW,
    );
    expect(e.context).toEqual({ timestamp: T0 - 1, notBefore: T0, expirationTime: EXP });
    refusal(applyAction(fresh(), grant, action({ ts: EXP }), EXP), ErrorCode.OUTSIDE_WINDOW);
    accepted(applyAction(fresh(), grant, action({ ts: T0 }), T0));
    accepted(applyAction(fresh(), grant, action({ ts: EXP - 1 }), EXP));
  });

  it("late delivery past the grace after expiry with 4008, even when stamped inside the window", () => {
    const grace = POLICY_DEFAULTS.lateGraceMs;
    accepted(applyAction(fresh(), grant, action({ ts: EXP - 1 }), EXP + grace - 1));
    const e = refusal(
      applyAction(fresh(), grant, action({ ts: EXP - 1 }), EXP + grace),
      ErrorCode.SESSION_EXPIRED,
    );
    expect(e.context).toEqual({ grantId: gid, expirationTime: EXP, at: EXP + grace });
    refusal(
      applyAction(fresh(), grant, action({ ts: EXP - 1 }), EXP + 1, NO_COLLISIONS, {
        lateGraceMs: 1,
      }),
      ErrorCode.SESSION_EXPIRED,
    );
  });

  it("an ordinal above the scope's cap with 4002: ord = cap is fine, cap + 1 is not", () => {
    accepted(applyAction(fresh(), grant, action({ ord: 50 }), T0 + 1000));
    const e = refusal(
      applyAction(fresh(), grant, action({ ord: 51 }), T0 + 1000),
      ErrorCode.OVER_CAP,
    );
    expect(e.context).toEqual({ scope: "post", cap: 50, ordinal: 51 });
    // react has no total limit.
    accepted(applyAction(fresh(), grant, action({ kind: "react", ord: 1_000_000_000 }), T0 + 1000));
  });

  it("the perHour + 1st action within an hour with 4003, and accepts again once the hour has passed", () => {
    const start = T0 + 10 * MINUTE; // a whole minute
    let s = fresh();
    for (let i = 1; i <= 20; i++) {
      const now = start + (i - 1) * 1000;
      s = accepted(applyAction(s, grant, action({ seq: i, ord: i, ts: now }), now));
    }
    expect(countInLastHour(s.rates.post, start)).toBe(20);
    const late = start + 59 * MINUTE + 59_999; // the 60th minute after the first bucket's
    const e = refusal(
      applyAction(s, grant, action({ seq: 21, ord: 21, ts: late }), late),
      ErrorCode.OVER_RATE,
    );
    expect(e.context).toEqual({ scope: "post", perHour: 20 });
    const next = start + 60 * MINUTE;
    s = accepted(applyAction(s, grant, action({ seq: 21, ord: 21, ts: next }), next));
    expect(countInLastHour(s.rates.post, next)).toBe(1);
    // Rate limits are per scope: replies have their own.
    accepted(applyAction(s, grant, action({ kind: "reply", seq: 22, ord: 1, ts: late }), late));
  });

  it("neither checks nor counts the rate with enforceRates false (actions learned from a peer)", () => {
    const start = T0 + 10 * MINUTE;
    let s = fresh();
    for (let i = 1; i <= 20; i++)
      s = accepted(applyAction(s, grant, action({ seq: i, ord: i, ts: start }), start));
    const peer = { enforceRates: false };
    const t = accepted(
      applyAction(s, grant, action({ seq: 21, ord: 21, ts: start }), start, NO_COLLISIONS, peer),
    );
    expect(t.rates).toBe(s.rates);
    expect(t.used.post).toBe(21);
    // The cap still holds.
    refusal(
      applyAction(s, grant, action({ seq: 22, ord: 51, ts: start }), start, NO_COLLISIONS, peer),
      ErrorCode.OVER_CAP,
    );
  });

  it("the rate even when the node's clock steps back an hour: receipts are never forgotten", () => {
    const start = T0 + 40 * MINUTE;
    let s = fresh();
    for (let i = 1; i <= 20; i++)
      s = accepted(applyAction(s, grant, action({ seq: i, ord: i, ts: start }), start));
    const earlier = start - 30 * MINUTE; // the clock stepped back
    refusal(
      applyAction(s, grant, action({ seq: 21, ord: 21, ts: earlier }), earlier),
      ErrorCode.OVER_RATE,
    );
    expect(countInLastHour(s.rates.post, earlier)).toBe(20);
  });

  it("nothing for an hourly rate of null (follow)", () => {
    let s = fresh();
    for (let i = 1; i <= 150; i++) {
      s = accepted(
        applyAction(s, grant, action({ kind: "follow", seq: i, ord: i, ts: T0 + 1 }), T0 + 1),
      );
    }
    expect(s.used.follow).toBe(150);
    expect(s.rates.follow).toEqual([[T0 / MINUTE, 150]]);
  });
});

describe("applyAction's order of checks", () => {
  const revoked = () => applyRevocation(fresh(), revocation(null), T0);
  const narrow = makeGrant("alice", "alice-session-1", {
    scopes: ["react"],
    limits: { react: { total: 1, perHour: 1 } },
    tipBudget: null,
  }).grant;

  it("wrong grant before duplicate", () => {
    const a = action();
    const other = initialSessionState(grantIdOf(narrow));
    refusal(
      applyAction(other, grant, a, T0, { bySequence: a.id, byOrdinal: a.id }),
      ErrorCode.WRONG_GRANT,
    );
  });

  it("duplicate before revocation: a repeat is answered the same even after revocation", () => {
    const a = action();
    const s = revoked();
    const r = applyAction(s, grant, a, T0 + DAY, { bySequence: a.id, byOrdinal: a.id });
    expect(r).toEqual({ ok: true, value: { state: s, duplicate: true } });
    if (r.ok) expect(r.value.state).toBe(s);
  });

  it("revocation before equivocation", () => {
    refusal(
      applyAction(revoked(), grant, action(), T0, {
        bySequence: action({ n: 9 }).id,
        byOrdinal: null,
      }),
      ErrorCode.SESSION_REVOKED,
    );
  });

  it("equivocation before scope", () => {
    const a = verifiedAction(payloadOf({ kind: "post", ts: T0 }, gid));
    refusal(
      applyAction(fresh(), narrow, a, T0, { bySequence: action({ n: 9 }).id, byOrdinal: null }),
      ErrorCode.EQUIVOCATION,
    );
  });

  it("scope before time", () => {
    const a = verifiedAction(payloadOf({ kind: "post", ts: T0 + DAY }, gid));
    refusal(applyAction(fresh(), narrow, a, T0), ErrorCode.SCOPE_NOT_GRANTED);
  });

  it("future timestamp before window, window before expiry, expiry before cap, cap before rate", () => {
    refusal(
      applyAction(fresh(), grant, action({ ts: EXP + DAY, ord: 999 }), T0),
      ErrorCode.TIMESTAMP_IN_FUTURE,
    );
    refusal(
      applyAction(fresh(), grant, action({ ts: EXP, ord: 999 }), EXP + DAY),
      ErrorCode.OUTSIDE_WINDOW,
    );
    refusal(
      applyAction(fresh(), grant, action({ ts: EXP - 1, ord: 999 }), EXP + DAY),
      ErrorCode.SESSION_EXPIRED,
    );
    // narrow allows one react in total and one per hour: the second breaks both.
    const a = verifiedAction(payloadOf({ kind: "react", ts: T0 }, gid));
    const s = accepted(applyAction(fresh(), narrow, a, T0));
    const b = verifiedAction(payloadOf({ kind: "react", seq: 2, ord: 2, ts: T0 }, gid));
    refusal(applyAction(s, narrow, b, T0), ErrorCode.OVER_CAP);
  });
});

describe("duplicates", () => {
  it("the same action again is a duplicate: state unchanged, same object", () => {
    const a = action();
    const s = accepted(applyAction(fresh(), grant, a, T0 + 1000));
    const r = applyAction(s, grant, a, T0 + 2000, { bySequence: a.id, byOrdinal: a.id });
    expect(r.ok && r.value.duplicate).toBe(true);
    expect(r.ok && r.value.state).toBe(s);
  });

  it("an action that matches only its own ordinal record is not an equivocation", () => {
    const a = action();
    const r = applyAction(fresh(), grant, a, T0 + 1000, { bySequence: null, byOrdinal: a.id });
    expect(r.ok).toBe(true);
  });
});

describe("revocation of a session state", () => {
  it("revokeForEquivocation revokes once and keeps the first time", () => {
    const s = revokeForEquivocation(fresh(), T0 + 10);
    expect(s).toMatchObject({ status: "revoked", revokedAt: T0 + 10, revokedBy: "equivocation" });
    expect(Object.isFrozen(s)).toBe(true);
    expect(revokeForEquivocation(s, T0 + 20)).toBe(s);
  });

  it("applyRevocation revokes with the wallet's compromise time, or none", () => {
    expect(applyRevocation(fresh(), revocation(null), T0 + 5)).toMatchObject({
      status: "revoked",
      revokedAt: T0 + 5,
      revokedBy: "revocation",
      compromisedSince: null,
    });
    expect(applyRevocation(fresh(), revocation(T0 + 1), T0 + 5).compromisedSince).toBe(T0 + 1);
  });

  it("applyRevocation on a revoked session only ever moves compromisedSince earlier", () => {
    const s = applyRevocation(fresh(), revocation(T0 + 100), T0 + 500);
    expect(applyRevocation(s, revocation(T0 + 200), T0 + 600)).toBe(s);
    expect(applyRevocation(s, revocation(null), T0 + 600)).toBe(s);
    const earlier = applyRevocation(s, revocation(T0 + 50), T0 + 700);
    expect(earlier).toMatchObject({
      compromisedSince: T0 + 50,
      revokedAt: T0 + 500,
      revokedBy: "revocation",
    });
    const plain = applyRevocation(fresh(), revocation(null), T0 + 500);
    expect(applyRevocation(plain, revocation(T0 + 300), T0 + 900).compromisedSince).toBe(T0 + 300);
  });

  it("applyRevocation after an equivocation keeps its cause and time, adding the compromise time", () => {
    const s = revokeForEquivocation(fresh(), T0 + 10);
    const r = applyRevocation(s, revocation(T0 + 1), T0 + 20);
    expect(r).toMatchObject({
      revokedBy: "equivocation",
      revokedAt: T0 + 10,
      compromisedSince: T0 + 1,
    });
  });
});

describe("countInLastHour", () => {
  it("counts the receipts of the 60 whole minutes ending with now's", () => {
    const m = Math.floor((T0 + HOUR) / MINUTE);
    const buckets = [
      [m - 60, 5],
      [m - 59, 2],
      [m - 1, 3],
      [m, 1],
    ] as const;
    expect(countInLastHour(buckets, m * MINUTE)).toBe(6);
    expect(countInLastHour(buckets, m * MINUTE + 59_999)).toBe(6);
    expect(countInLastHour(buckets, (m + 1) * MINUTE)).toBe(4);
    expect(countInLastHour(undefined, T0)).toBe(0);
  });
});

describe("grantTimeStatus", () => {
  const later = makeGrant("alice", "later", {
    notBefore: T0 + HOUR,
    expirationTime: T0 + 2 * HOUR,
  }).grant;

  it("is pending before notBefore (beyond the skew), live inside, expired from expirationTime", () => {
    expect(grantTimeStatus(later, T0)).toBe("pending");
    expect(grantTimeStatus(later, T0 + HOUR - 60_001)).toBe("pending");
    expect(grantTimeStatus(later, T0 + HOUR - 60_000)).toBe("live");
    expect(grantTimeStatus(later, T0 + 2 * HOUR - 1)).toBe("live");
    expect(grantTimeStatus(later, T0 + 2 * HOUR)).toBe("expired");
    expect(grantTimeStatus(later, T0 + HOUR - 1, { maxFutureSkewMs: 0 })).toBe("pending");
  });
});

// --- the state machine, as a property ---------------------------------------------------

const LIMITED: Grant = makeGrant("alice", "limited", {
  scopes: ["post", "reply", "react", "follow"],
  limits: {
    post: { total: 6, perHour: 3 },
    reply: { total: null, perHour: 2 },
    react: { total: 8, perHour: null },
    follow: { total: 4, perHour: 4 },
  },
  tipBudget: null,
}).grant;
const LIMITED_ID = grantIdOf(LIMITED);

const command = fc.record({
  kind: fc.constantFrom<ActionKind>(
    "post",
    "reply",
    "react",
    "unreact",
    "follow",
    "unfollow",
    "profile",
  ),
  // Mostly well-behaved clients, so sessions live long enough to meet caps and rates;
  // sometimes a reused seq or ordinal (equivocation), a skipped or an over-cap ordinal.
  seq: fc.oneof({ arbitrary: fc.constant("next"), weight: 12 }, fc.constant("reuse")),
  ord: fc.oneof(
    { arbitrary: fc.constant("next"), weight: 10 },
    fc.constant("skip"),
    fc.constant("reuse"),
    fc.constant("over"),
  ),
  jump: fc.integer({ min: 1, max: 4 }),
  // Receipt times advance by bursts (same minute), minutes, or long pauses.
  advanceMs: fc.oneof(
    { arbitrary: fc.constant(0), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: 3 * MINUTE }), weight: 4 },
    { arbitrary: fc.integer({ min: 0, max: 70 * MINUTE }), weight: 1 },
  ),
  tsOffsetMs: fc.integer({ min: -10 * MINUTE, max: 2 * MINUTE }),
  replay: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

interface Accepted {
  readonly scope: Scope;
  readonly seq: number;
  readonly ord: number;
  readonly minute: number;
}

describe("the policy state machine (property)", () => {
  it("never exceeds a cap, accepts no ordinal above it, and never exceeds perHour in 60 whole minutes", () => {
    const seen = new Set<number | "accepted" | "duplicate">();
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 100 }), (commands) => {
        let state = initialSessionState(LIMITED_ID);
        let now = LIMITED.notBefore;
        let nextSeq = 1;
        const nextOrd = new Map<Scope, number>();
        const bySeq = new Map<number, ActionId>();
        const byOrd = new Map<string, ActionId>();
        const history: VerifiedAction[] = [];
        const log: Accepted[] = [];

        commands.forEach((c, step) => {
          now += c.advanceMs; // a node's receipt clock does not run backwards
          let a: VerifiedAction;
          const previous = history[c.jump % Math.max(1, history.length)];
          if (c.replay && previous !== undefined) {
            a = previous;
          } else {
            const scope = SCOPE_OF_KIND[c.kind];
            const seq = c.seq === "reuse" && nextSeq > 1 ? nextSeq - 1 : nextSeq++;
            const last = nextOrd.get(scope) ?? 0;
            const cap = LIMITED.limits[scope]?.total ?? 1_000;
            const ord =
              c.ord === "reuse"
                ? Math.max(1, last)
                : c.ord === "over"
                  ? cap + c.jump
                  : last + (c.ord === "skip" ? c.jump : 1);
            if (ord > last && c.ord !== "over") nextOrd.set(scope, ord);
            const body =
              c.kind === "post" || c.kind === "reply"
                ? { ...bodyOf(c.kind), text: `step ${step}` }
                : bodyOf(c.kind);
            const ts = Math.max(0, now + c.tsOffsetMs);
            a = verifiedAction(payloadOf({ kind: c.kind, seq, ord, ts, body }, LIMITED_ID));
            history.push(a);
          }
          const p = a.payload;
          const scope = SCOPE_OF_KIND[p.kind];
          const collisions: Collisions = {
            bySequence: bySeq.get(p.seq) ?? null,
            byOrdinal: byOrd.get(`${scope}:${p.ord}`) ?? null,
          };
          const before = state;
          const r = applyAction(state, LIMITED, a, now, collisions);
          if (r.ok) {
            if (r.value.duplicate) {
              seen.add("duplicate");
              expect(r.value.state).toBe(before);
            } else {
              seen.add("accepted");
              expect(before.status).toBe("active");
              bySeq.set(p.seq, a.id);
              byOrd.set(`${scope}:${p.ord}`, a.id);
              log.push({ scope, seq: p.seq, ord: p.ord, minute: Math.floor(now / MINUTE) });
            }
            state = r.value.state;
          } else {
            seen.add(r.error.code);
            expect(state).toBe(before);
            if (r.error.code === ErrorCode.EQUIVOCATION) state = revokeForEquivocation(state, now);
          }

          for (const s of LIMITED.scopes) {
            const mine = log.filter((x) => x.scope === s);
            expect(state.used[s] ?? 0).toBe(mine.length);
            const cap = LIMITED.limits[s]?.total ?? null;
            if (cap !== null) {
              expect(mine.length).toBeLessThanOrEqual(cap);
              for (const x of mine) expect(x.ord).toBeLessThanOrEqual(cap);
            }
            expect(new Set(mine.map((x) => x.ord)).size).toBe(mine.length);
            const perHour = LIMITED.limits[s]?.perHour ?? null;
            if (perHour !== null) {
              for (const x of mine) {
                const inWindow = mine.filter(
                  (y) => y.minute > x.minute - 60 && y.minute <= x.minute,
                );
                expect(inWindow.length).toBeLessThanOrEqual(perHour);
              }
            }
          }
          expect(new Set(log.map((x) => x.seq)).size).toBe(log.length);
        });
      }),
      { numRuns: 250 },
    );
    // The generator reaches every outcome the invariants are about.
    for (const outcome of [
      "accepted",
      "duplicate",
      ErrorCode.OVER_CAP,
      ErrorCode.OVER_RATE,
      ErrorCode.EQUIVOCATION,
      ErrorCode.SESSION_REVOKED,
      ErrorCode.SCOPE_NOT_GRANTED,
      ErrorCode.TIMESTAMP_IN_FUTURE,
    ] as const) {
      expect([outcome, seen.has(outcome)]).toEqual([outcome, true]);
    }
  });
});
