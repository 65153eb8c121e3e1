import {
  ACTION_LIMITS,
  type ActionId,
  type ActionKind,
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  type BodyOfKind,
  type DmBody,
  type Ed25519Backend,
  type EncryptionPublicKey,
  ErrorCode,
  isProtocolError,
  ProtocolError,
  requestSigningBytes,
  SCOPE_OF_KIND,
  type Scope,
  type Signature,
  type SignedAction,
  toBase58,
  toBase64url,
  utf8,
  type VerifyContext,
  type WalletAddress,
} from "@sesame/protocol";
import { type DmPlaintext, decryptDm, encryptDm } from "./dm.js";
import { isClientError, isTransient, SesameClientError } from "./errors.js";
import type { SessionStore } from "./keys.js";
import type {
  ItemResult,
  NodeApi,
  PageQuery,
  ServedAction,
  ServedPost,
  ServedProfile,
  ServedReactions,
  StreamEvent,
} from "./node-api.js";
import { forged, ReadVerifier, type VerifiedSession } from "./read-verifier.js";
import type { ActiveSession, SessionManager } from "./session-manager.js";

export type SendResult =
  | { readonly status: "accepted"; readonly id: ActionId; readonly duplicate: boolean }
  /**
   * Signed and kept in the outbox, sent again later (with backoff, or on `flush()`): the
   * node is unreachable or busy, a proxy answered (408/429/5xx), or the node held it back
   * as over the hourly rate (4003: valid, accepted once the hour allows). `error` says
   * which; undefined when the answer had not come yet.
   */
  | { readonly status: "queued"; readonly id: ActionId; readonly error?: Error };

/** How an action left (or stayed in) the outbox. */
type Outcome =
  | { readonly kind: "accepted"; readonly duplicate: boolean }
  | { readonly kind: "refused"; readonly error: Error }
  | { readonly kind: "held"; readonly error: Error };

export interface RetryOptions {
  /** First delay after a transient failure; doubles each time. Default 1 s. */
  readonly baseMs?: number;
  /** Longest delay between retries. Default 60 s. */
  readonly maxMs?: number;
  /** Delay while an action is held back as over the hourly rate. Default 60 s (the
   * node's rate window moves by the minute). */
  readonly rateMs?: number;
}

/** At most this many actions, and about this many bytes of JSON, per request. */
const BATCH_ITEMS = 100;
const BATCH_BYTES = 256 * 1024;

/** A node's per-action answers as outcomes: OVER_RATE and transient codes are held back. */
function toOutcomes(results: readonly ItemResult[]): Outcome[] {
  return results.map((r) => {
    if (r.ok) return { kind: "accepted", duplicate: r.duplicate };
    const error = new ProtocolError(r.error.code, r.error.context as never);
    return isTransient(error) ? { kind: "held", error } : { kind: "refused", error };
  });
}

/** Takes the next batch off the front of `outbox`: at least one action, in order. */
function takeBatch(outbox: SignedAction[]): SignedAction[] {
  let bytes = 0;
  let n = 0;
  while (n < outbox.length && n < BATCH_ITEMS) {
    bytes += JSON.stringify(outbox[n]).length;
    if (n > 0 && bytes > BATCH_BYTES) break;
    n++;
  }
  return outbox.splice(0, n);
}

/** A refusal of a whole request as the refusal of one action. */
function asFinal(e: unknown): Error {
  if (e instanceof ProtocolError || e instanceof SesameClientError) return e;
  throw e;
}

export interface SocialClientOptions {
  readonly manager: SessionManager;
  readonly store: SessionStore;
  readonly api: NodeApi;
  /** Verification backend for everything read (node:crypto in Node, WebCrypto in browsers). */
  readonly backend: Ed25519Backend;
  readonly context: VerifyContext;
  readonly clock?: () => number;
  /**
   * Renew a session in its renew window before the next action (one prompt), when the
   * manager has a wallet. Default true.
   */
  readonly autoRenew?: boolean;
  /** Told when an automatic renewal failed (the current session is used while it lasts). */
  readonly onRenewError?: (error: unknown) => void;
  /** Automatic retries of what stays queued; false: only `flush()` sends it. */
  readonly retry?: RetryOptions | false;
  /** Told of actions refused for good that no `act()` call was waiting on (queued earlier). */
  readonly onRefused?: (action: SignedAction, error: Error) => void;
}

/**
 * A page whose every item verified (a page with one item that does not is refused whole,
 * with `SesameClientError` reason `FORGED_READ`).
 */
export interface Verified<T> {
  readonly items: T[];
  readonly next: string | null;
}

export interface ReadDm {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly at: number;
  /** Undefined when no copy was made for this session's key. */
  readonly message: DmPlaintext | undefined;
}

/** A session a direct message was not encrypted to (over the copies limit). */
export interface LeftOutSession {
  readonly wallet: string;
  readonly grant: string;
  readonly device: string;
}

/** `sendDm`'s answer: how many copies were made, and which sessions were left out. */
export type DmSendResult = SendResult & {
  readonly copies: number;
  readonly leftOut: readonly LeftOutSession[];
};

interface DmSession extends LeftOutSession {
  readonly issuedAt: number;
  readonly key: EncryptionPublicKey;
}

/**
 * The copies of a direct message, at most `max`: the sending session, then up to 3 of the
 * sender's other sessions, then the recipient's, then the sender's remaining ones (each
 * list newest first). A key listed twice gets one copy.
 */
export function pickDmCopies<T extends { readonly key: string }>(
  self: T,
  mine: readonly T[],
  theirs: readonly T[],
  max: number,
): { chosen: T[]; leftOut: T[] } {
  const order = [self, ...mine.slice(0, 3), ...theirs, ...mine.slice(3)];
  const keys = new Set<string>();
  const chosen: T[] = [];
  const leftOut: T[] = [];
  for (const s of order) {
    if (keys.has(s.key)) continue;
    keys.add(s.key);
    (chosen.length < max ? chosen : leftOut).push(s);
  }
  return { chosen, leftOut };
}

/**
 * What an app does with a session: act (no prompts), read (every item verified), and
 * direct messages. Actions are signed with counters reserved durably beforehand, kept in
 * an outbox until a node acknowledges them, and delivered in order exactly once.
 */
export class SocialClient {
  /** Checks everything read from the node before it is used. */
  readonly verifier: ReadVerifier;
  readonly #clock: () => number;
  #flushChain: Promise<void> = Promise.resolve();
  /** Answers for the actions an `act()` call is waiting on, and only those. */
  readonly #outcomes = new Map<string, Outcome | undefined>();
  /** Sessions whose counters were checked against the node since this client started. */
  readonly #synced = new Set<string>();
  readonly #renewFailed = new Set<string>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryAttempt = 0;
  #heldBy: Error | undefined;
  #renewing: Promise<ActiveSession> | undefined;
  /** Scopes whose first queued action was held back: it goes alone until it passes. */
  readonly #blockedScopes = new Set<Scope>();
  /** Sessions this client already replaced: a late reader of the old one does not renew again. */
  readonly #renewedFrom = new Set<string>();

  constructor(private readonly options: SocialClientOptions) {
    this.#clock = options.clock ?? Date.now;
    this.verifier = new ReadVerifier(options);
    options.manager.useVerifier(this.verifier);
  }

  /**
   * This device's session, if it can act: else the refusal an app shows (none, revoked,
   * expired), as a ProtocolError. No prompt.
   */
  async session(): Promise<ActiveSession> {
    const status = await this.options.manager.status();
    switch (status.state) {
      case "none":
        throw new ProtocolError(ErrorCode.NOT_FOUND, { what: "a session: start one first" });
      case "revoked":
        throw new ProtocolError(ErrorCode.SESSION_REVOKED, {
          grantId: status.grantId,
          revokedAt: status.revokedAt,
        });
      case "expired":
        throw new ProtocolError(ErrorCode.SESSION_EXPIRED, {
          grantId: status.session.grantId,
          expirationTime: status.session.grant.expirationTime,
          at: this.#clock(),
        });
      case "active":
        return status.session;
    }
  }

  /** Why the last flush left actions in the outbox (undefined when it emptied it). */
  get heldBy(): Error | undefined {
    return this.#heldBy;
  }

  /** How many `act()` calls are waiting for their answer right now. */
  get pendingAnswers(): number {
    return this.#outcomes.size;
  }

  /** Stops automatic retries (what is queued stays queued). */
  close(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** The session to act with: renewed first when due and a wallet can be asked (one prompt). */
  async #actingSession(): Promise<ActiveSession> {
    const { manager } = this.options;
    const auto = this.options.autoRenew !== false && manager.canPrompt;
    if (auto) {
      const status = await manager.status();
      const current =
        status.state === "active" || status.state === "expired" ? status.session : undefined;
      if (
        current !== undefined &&
        manager.renewalDue(current) &&
        !this.#renewFailed.has(current.grantId) &&
        !this.#renewedFrom.has(current.grantId)
      ) {
        // Actions racing into the window share one renewal: one prompt, not one each.
        this.#renewing ??= manager
          .renew()
          .then((renewed) => {
            this.#renewedFrom.add(current.grantId);
            return renewed;
          })
          .finally(() => {
            this.#renewing = undefined;
          });
        try {
          return await this.#renewing;
        } catch (e) {
          // Declined or failed: not asked again by this client for this session.
          if (!this.#renewFailed.has(current.grantId)) {
            this.#renewFailed.add(current.grantId);
            this.options.onRenewError?.(e);
          }
        }
      }
    }
    return await this.session();
  }

  /**
   * Lifts this device's counters above what the node already holds for the session, once
   * per session per client: a keystore restored from a backup (or copied from another
   * device) would otherwise sign a used sequence number or ordinal, an equivocation that
   * ends the session everywhere. Unreachable: skipped for now, tried again next time.
   */
  async #syncCounters(session: ActiveSession): Promise<void> {
    if (this.#synced.has(session.grantId)) return;
    let listed: Awaited<ReturnType<NodeApi["sessions"]>>;
    try {
      listed = await this.options.api.sessions(session.grant.wallet);
    } catch {
      return;
    }
    const mine = listed.find((s) => s.grant === session.grantId);
    if (mine?.maxSeq !== undefined) {
      await this.options.store.raise(session.slot, session.grantId, {
        maxSeq: mine.maxSeq,
        maxOrd: (mine.maxOrd ?? {}) as Partial<Record<Scope, number>>,
      });
    }
    this.#synced.add(session.grantId);
  }

  /** Signs one action with the session key and sends it (queued if the node is down). */
  async act<K extends ActionKind>(kind: K, body: BodyOfKind[K]): Promise<SendResult> {
    const session = await this.#actingSession();
    const { store } = this.options;
    const scope = SCOPE_OF_KIND[kind];
    if (!session.grant.scopes.includes(scope))
      throw new ProtocolError(ErrorCode.SCOPE_NOT_GRANTED, { scope });
    await this.#syncCounters(session);
    // Durable before signing: a crash after this line can skip numbers, never reuse them.
    const { seq, ord } = await store.reserve(session.slot, scope);
    const payload = {
      v: 1,
      kind,
      grant: session.grantId,
      seq,
      ord,
      ts: this.#clock(),
      body,
    } as ActionPayload;
    const signature = toBase58(await session.keys.sign(actionSigningBytes(payload))) as Signature;
    // Durable before sending: a crash now leaves it in the outbox, sent on the next flush.
    await store.enqueue(session.slot, { payload, signature });
    return await this.#sendQueued(signature, actionIdOf(payload));
  }

  /** Flushes the outbox and answers for one action in it (queued if it did not go out). */
  async #sendQueued(signature: string, id: ActionId): Promise<SendResult> {
    this.#outcomes.set(signature, undefined);
    let outcome: Outcome | undefined;
    try {
      await this.flush();
      outcome = this.#outcomes.get(signature);
    } finally {
      this.#outcomes.delete(signature);
    }
    if (outcome === undefined) return { status: "queued", id };
    if (outcome.kind === "held") return { status: "queued", id, error: outcome.error };
    if (outcome.kind === "refused") throw outcome.error;
    return { status: "accepted", id, duplicate: outcome.duplicate };
  }

  #record(action: SignedAction, outcome: Outcome): void {
    if (this.#outcomes.has(action.signature)) this.#outcomes.set(action.signature, outcome);
    else if (outcome.kind === "refused") this.options.onRefused?.(action, outcome.error);
  }

  /** Tries the outbox again later: backoff for failures, the rate delay for 4003. */
  #scheduleRetry(why: Error): void {
    const retry = this.options.retry;
    if (retry === false || this.#retryTimer !== undefined) return;
    const base = retry?.baseMs ?? 1_000;
    const max = retry?.maxMs ?? 60_000;
    let delay = isProtocolError(why, ErrorCode.OVER_RATE)
      ? (retry?.rateMs ?? 60_000)
      : Math.min(max, base * 2 ** Math.min(this.#retryAttempt++, 30));
    const after = isProtocolError(why, ErrorCode.TOO_MANY_REQUESTS)
      ? why.context.retryAfterMs
      : why instanceof SesameClientError && why.reason === "HTTP_STATUS"
        ? (why as SesameClientError<"HTTP_STATUS">).context.retryAfterMs
        : null;
    if (after !== null && after > delay) delay = Math.min(after, 3_600_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.flush().catch(() => {});
    }, delay);
    (this.#retryTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Sends the outbox, oldest first, in batches; stops at the first sign that the node is
   * unreachable (what is left stays queued). Flushes never overlap, so order holds.
   * Returns how many actions left the outbox (accepted, duplicate or refused for good).
   */
  flush(): Promise<number> {
    const run = this.#flushChain.then(() => this.#flushOnce());
    this.#flushChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #flushOnce(): Promise<number> {
    const session = await this.options.manager.resume();
    if (session === undefined) return 0;
    const { api, store } = this.options;
    let done = 0;
    const outbox = [...session.record.outbox];
    let revoked = false;
    /** When the node's refusal says the session was revoked (4007 carries the time). */
    let revokedAt: number | undefined;
    let held: Error | undefined;
    /**
     * Scopes with an action held back in this flush (4003, or a transient refusal of that
     * one action): later actions of the same scope stay queued behind it, unsent, so a
     * scope's actions are accepted in the order they were signed. Other scopes go on.
     */
    const heldScopes = new Map<Scope, Error>();
    const blocked = this.#blockedScopes;
    while (outbox.length > 0) {
      for (let i = 0; i < outbox.length; ) {
        const action = outbox[i] as SignedAction;
        const blocker = heldScopes.get(SCOPE_OF_KIND[action.payload.kind]);
        if (blocker === undefined) {
          i++;
          continue;
        }
        outbox.splice(i, 1);
        this.#record(action, { kind: "held", error: blocker });
      }
      if (outbox.length === 0) break;
      // A scope held back last time sends only its first action until that one passes.
      const firsts = new Set<Scope>();
      const sendable = outbox.filter((a) => {
        const scope = SCOPE_OF_KIND[a.payload.kind];
        if (!blocked.has(scope)) return true;
        if (firsts.has(scope)) return false;
        firsts.add(scope);
        return true;
      });
      const batch = takeBatch(sendable);
      const taken = new Set(batch);
      for (let i = outbox.length - 1; i >= 0; i--)
        if (taken.has(outbox[i] as SignedAction)) outbox.splice(i, 1);
      let outcomes: Outcome[];
      try {
        outcomes = toOutcomes(await api.postActions(batch));
      } catch (e) {
        if (isTransient(e)) {
          // Unreachable, busy or timed out: everything left stays queued, in order.
          held = e as Error;
          for (const a of [...batch, ...outbox]) this.#record(a, { kind: "held", error: held });
          break;
        }
        // Refused as a whole (too large, malformed): send one by one, so one bad action
        // is refused alone instead of blocking the queue for ever.
        if (batch.length === 1) {
          outcomes = [{ kind: "refused", error: asFinal(e) }];
        } else {
          outbox.unshift(...batch.slice(1));
          batch.length = 1;
          try {
            outcomes = toOutcomes(await api.postActions(batch));
          } catch (single) {
            if (isTransient(single)) {
              held = single as Error;
              for (const a of [...batch, ...outbox]) this.#record(a, { kind: "held", error: held });
              break;
            }
            outcomes = [{ kind: "refused", error: asFinal(single) }];
          }
        }
      }
      for (const [i, action] of batch.entries()) {
        const outcome = outcomes[i];
        if (outcome === undefined) continue;
        this.#record(action, outcome);
        // Held back (over the hourly rate, or a transient failure of this one action): it
        // stays in the outbox and is tried again later.
        const scope = SCOPE_OF_KIND[action.payload.kind];
        if (outcome.kind === "held") {
          held = outcome.error;
          heldScopes.set(scope, outcome.error);
          blocked.add(scope);
          continue;
        }
        if (!heldScopes.has(scope)) blocked.delete(scope);
        // Accepted, a duplicate, or refused for good (revoked, over a cap): out of the outbox.
        await store.dequeue(session.slot, action.signature);
        done++;
        if (outcome.kind === "refused") {
          if (isProtocolError(outcome.error, ErrorCode.SESSION_REVOKED)) {
            revoked = true;
            revokedAt ??= outcome.error.context.revokedAt;
          } else if (isProtocolError(outcome.error, ErrorCode.EQUIVOCATION)) {
            revoked = true;
          }
        }
      }
    }
    // Revoked on another device (or cut off for equivocation): destroy the keys here too,
    // so what was encrypted to them can no longer be read on this device either.
    if (revoked) await this.options.manager.forgetRevoked(revokedAt);
    this.#heldBy = revoked ? undefined : held;
    if (held !== undefined && !revoked) this.#scheduleRetry(held);
    else this.#retryAttempt = 0;
    return done;
  }

  post(text: string, options: { links?: string[]; mentions?: WalletAddress[] } = {}) {
    return this.act("post", { text, links: options.links ?? [], mentions: options.mentions ?? [] });
  }

  reply(
    parent: string,
    text: string,
    options: { links?: string[]; mentions?: WalletAddress[] } = {},
  ) {
    return this.act("reply", {
      parent: parent as ActionId,
      text,
      links: options.links ?? [],
      mentions: options.mentions ?? [],
    });
  }

  react(target: string, reaction = "like") {
    return this.act("react", { target: target as ActionId, reaction });
  }

  unreact(target: string, reaction = "like") {
    return this.act("unreact", { target: target as ActionId, reaction });
  }

  follow(target: string) {
    return this.act("follow", { target: target as WalletAddress });
  }

  unfollow(target: string) {
    return this.act("unfollow", { target: target as WalletAddress });
  }

  setProfile(profile: { displayName?: string; bio?: string; avatarUrl?: string }) {
    return this.act("profile", {
      displayName: profile.displayName ?? "",
      bio: profile.bio ?? "",
      avatarUrl: profile.avatarUrl ?? "",
    });
  }

  /** Records a tip whose on-chain transfer already happened (the funds tier builds it). */
  tip(body: BodyOfKind["tip"]) {
    return this.act("tip", body);
  }

  // ---- For callers that must send one signed action again (tips: see funds.ts) ----------

  /**
   * Signs an action like `act`, counters reserved durably first, but sends nothing: the
   * caller keeps the signed action and delivers it with `resend` (as often as needed).
   */
  async signAction<K extends ActionKind>(kind: K, body: BodyOfKind[K]): Promise<SignedAction> {
    const session = await this.session();
    const scope = SCOPE_OF_KIND[kind];
    if (!session.grant.scopes.includes(scope))
      throw new ProtocolError(ErrorCode.SCOPE_NOT_GRANTED, { scope });
    const { seq, ord } = await this.options.store.reserve(session.slot, scope);
    const payload = {
      v: 1,
      kind,
      grant: session.grantId,
      seq,
      ord,
      ts: this.#clock(),
      body,
    } as ActionPayload;
    const signature = toBase58(await session.keys.sign(actionSigningBytes(payload))) as Signature;
    return { payload, signature };
  }

  /**
   * Sends a signed action of this session through the outbox (queued unless it is there
   * already), like `act`, also once the session expired. Sending the same action again is safe: a node that has it
   * answers `duplicate`.
   */
  async resend(action: SignedAction): Promise<SendResult> {
    // An expired session may still deliver what it signed in time (nodes take late
    // actions stamped inside the grant's window); a revoked or forgotten one may not.
    const session = await this.options.manager.resume();
    if (session === undefined)
      throw new ProtocolError(ErrorCode.NOT_FOUND, { what: "the session of this action" });
    if (!session.record.outbox.some((a) => a.signature === action.signature))
      await this.options.store.enqueue(session.slot, action);
    return await this.#sendQueued(action.signature, actionIdOf(action.payload));
  }

  /**
   * Sends a direct message, encrypted to the live `dm` sessions of the recipient and to
   * this wallet's own live `dm` sessions (so its other devices can read what it sent), at
   * most `ACTION_LIMITS.maxDmCopies` (16) copies. Beyond that, copies are picked in this
   * order: the sending session; up to 3 of the sender's other sessions (newest first);
   * the recipient's sessions (newest first); the sender's remaining sessions. What is
   * left out is returned in `leftOut` (those sessions cannot read this message).
   */
  async sendDm(to: string, text: string): Promise<DmSendResult> {
    // Renewed first if due, so the sender's copy goes to the session that signs it.
    const session = await this.#actingSession();
    const from = session.grant.wallet;
    // The node only says which sessions exist; each key is taken from a grant whose
    // wallet signature this client verified itself, so a node cannot slip in its own key.
    const liveSessions = async (wallet: string): Promise<DmSession[]> => {
      const now = this.#clock();
      const listed = (await this.options.api.sessions(wallet)).filter(
        (s) => s.status === "active" && s.scopes.includes("dm"),
      );
      const out: DmSession[] = [];
      for (const s of listed) {
        try {
          const g = (await this.verifier.session(wallet, s)).verified.grant;
          if (!g.scopes.includes("dm") || g.expirationTime <= now) continue;
          out.push({
            wallet,
            grant: s.grant,
            device: g.device,
            issuedAt: g.issuedAt,
            key: g.encryptionKey,
          });
        } catch (e) {
          // A session whose grant does not verify (or is not this wallet's) gets no copy.
          if (!isClientError(e, "FORGED_READ")) throw e;
        }
      }
      // Newest first, whatever order the node listed them in.
      return out.sort((x, y) => y.issuedAt - x.issuedAt || (x.grant < y.grant ? -1 : 1));
    };
    const theirs = await liveSessions(to);
    if (theirs.length === 0) {
      throw new ProtocolError(ErrorCode.NOT_FOUND, {
        what: `a live session of ${to} that accepts direct messages`,
      });
    }
    const mine = (await liveSessions(from)).filter((s) => s.grant !== session.grantId);
    const self: DmSession = {
      wallet: from,
      grant: session.grantId,
      device: session.grant.device,
      issuedAt: session.grant.issuedAt,
      key: session.grant.encryptionKey,
    };
    const { chosen, leftOut } = pickDmCopies(self, mine, theirs, ACTION_LIMITS.maxDmCopies);
    const body = encryptDm(
      from,
      to as WalletAddress,
      { text },
      chosen.map((s) => s.key),
    );
    const sent = await this.act("dm", body);
    return {
      ...sent,
      copies: body.copies.length,
      leftOut: leftOut.map(({ wallet, grant, device }) => ({ wallet, grant, device })),
    };
  }

  /**
   * This wallet's direct messages, newest first, decrypted with every key this device
   * still holds for a live session: the current one, and replaced sessions (renewed) that
   * have not ended yet. Keys of sessions that ended are destroyed first.
   */
  async inbox(q?: PageQuery): Promise<Verified<ReadDm>> {
    const session = await this.session();
    // Which replaced sessions ended (their keys are destroyed): only what verifies counts
    // (a signed revocation, or the grant's end by this device's clock); otherwise, as when
    // the node is unreachable, only what this device knows ends them.
    let listed: VerifiedSession[] | undefined;
    try {
      listed = await this.sessions(session.grant.wallet);
    } catch {
      listed = undefined;
    }
    const readers = await this.options.manager.readingKeys(listed);
    const page = await this.options.api.inbox(
      session.grant.wallet,
      async (method, path) => {
        const payload = { v: 1 as const, grant: session.grantId, method, path, ts: this.#clock() };
        const signature = toBase58(await session.keys.sign(requestSigningBytes(payload)));
        return toBase64url(utf8(JSON.stringify({ payload, signature })));
      },
      q,
    );
    const verified = await this.verifier.page("inbox", page, { kinds: ["dm"] });
    const items: ReadDm[] = [];
    for (const a of verified.items) {
      const p = a.payload as ActionPayload & { kind: "dm" };
      let message: DmPlaintext | undefined;
      const body = p.body as DmBody;
      const reader = readers.find((r) => body.copies.some((c) => c.key === r.keys.encryptionKey));
      try {
        message =
          reader === undefined
            ? undefined
            : await decryptDm(a.wallet as WalletAddress, body, reader.keys);
      } catch {
        // A copy for this key that does not open (the sender made it badly or bound it to
        // another message): unreadable, but it must not hide the rest of the inbox.
        message = undefined;
      }
      items.push({ id: a.id, from: a.wallet, to: p.body.to, at: p.ts, message });
    }
    return { items, next: verified.next };
  }

  /** Checks an item the node served: its grant's wallet signature and the action's. */
  async verifyItem<T extends ServedAction>(item: T): Promise<boolean> {
    try {
      await this.verifier.action("item", item);
      return true;
    } catch {
      return false;
    }
  }

  async feed(q?: PageQuery): Promise<Verified<ServedPost>> {
    return await this.verifier.page("feed", await this.options.api.feed(q), { kinds: ["post"] });
  }

  async followingFeed(q?: PageQuery): Promise<Verified<ServedPost>> {
    return await this.verifier.page(
      "following feed",
      await this.options.api.followingFeed(this.options.manager.walletAddress, q),
      { kinds: ["post"] },
    );
  }

  async walletPosts(wallet: string, q?: PageQuery): Promise<Verified<ServedPost>> {
    return await this.verifier.page("wallet posts", await this.options.api.walletPosts(wallet, q), {
      kinds: ["post"],
      wallet,
    });
  }

  /** A post or reply by id: it must be the action asked for. */
  async getPost(id: string): Promise<ServedPost> {
    const p = await this.options.api.post(id);
    await this.verifier.action("post", p, ["post", "reply"]);
    if (p.id !== id) throw forged("post", id, `the node served ${p.id}`);
    return p;
  }

  async thread(
    id: string,
    q?: PageQuery,
  ): Promise<{ root: ServedPost; replies: Verified<ServedPost> }> {
    return await this.verifier.thread(id, await this.options.api.thread(id, q));
  }

  /** A profile: name, bio and avatar verified against the signed profile action. */
  async profile(wallet: string): Promise<ServedProfile> {
    return await this.verifier.profile(wallet, await this.options.api.profile(wallet));
  }

  /** A post's reactions, each verified against its signed react action (counts: the node's word). */
  async reactions(id: string, q?: PageQuery): Promise<ServedReactions> {
    return await this.verifier.reactions(id, await this.options.api.reactions(id, q));
  }

  /** A wallet's sessions, each grant (and revocation) verified against the wallet. */
  async sessions(wallet: string = this.options.manager.walletAddress): Promise<VerifiedSession[]> {
    return await this.verifier.sessions(wallet, await this.options.api.sessions(wallet));
  }

  /**
   * Follows the node's live stream from `after` (a log id; default: from now). Every event
   * is verified before `onEvent` sees it, one after the other in log order (a single
   * promise chain, so a slow check never lets a later event overtake). When the node goes
   * away (a restart), the stream resumes after the last event received (Last-Event-ID).
   * Resolves when `signal` aborts; rejects with `FORGED_READ` (and stops) at the first
   * event that does not verify.
   */
  async subscribe(
    onEvent: (e: StreamEvent) => void | Promise<void>,
    options: { after?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const stop = new AbortController();
    const outer = options.signal;
    const onAbort = () => stop.abort();
    if (outer?.aborted === true) return;
    outer?.addEventListener("abort", onAbort, { once: true });
    let chain: Promise<void> = Promise.resolve();
    let failure: unknown;
    try {
      await this.options.api.stream(
        (e) => {
          chain = chain.then(async () => {
            if (failure !== undefined || stop.signal.aborted) return;
            try {
              await this.verifier.event(e);
            } catch (err) {
              failure = err;
              stop.abort();
              return;
            }
            await onEvent(e);
          });
        },
        { ...(options.after === undefined ? {} : { after: options.after }), signal: stop.signal },
      );
      await chain;
    } finally {
      outer?.removeEventListener("abort", onAbort);
    }
    if (failure !== undefined) throw failure;
  }
}
