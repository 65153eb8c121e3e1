import {
  ErrorCode,
  type Grant,
  type GrantId,
  grantIdOfText,
  grantToText,
  POLICY_DEFAULTS,
  ProtocolError,
  parseGrantText,
  type Revocation,
  revocationToText,
  SCOPES,
  type Scope,
  type ScopeLimit,
  type Signature,
  type TipBudget,
  toBase58,
  utf8,
  validateGrant,
  validateRevocation,
  type WalletAddress,
} from "@sesame/protocol";
import { SesameClientError } from "./errors.js";
import type { RetiredSession, SessionKeys, SessionRecord, SessionStore } from "./keys.js";
import type { NodeApi } from "./node-api.js";
import type { ReadVerifier, VerifiedSession } from "./read-verifier.js";
import type { Wallet } from "./wallet.js";

/** Where the app runs: what the grant binds to. */
export interface AppIdentity {
  /** The app's origin host (and port), as the wallet shows it. */
  readonly domain: string;
  readonly uri: string;
  /** What the person will recognise on the Sessions page. */
  readonly device: string;
  readonly chain: string;
  readonly network: string;
}

/** Sees the exact grant text before the wallet is asked; throwing declines. */
export type GrantHook = (text: string) => void | Promise<void>;

/** What an app asks for. The person sees it as the grant text before the one prompt. */
export interface SessionPolicy {
  readonly scopes: readonly Scope[];
  readonly limits: Readonly<Partial<Record<Scope, ScopeLimit>>>;
  readonly durationMs: number;
  readonly statement?: string;
  readonly tipBudget?: TipBudget | null;
}

/** Funded sessions: the grant travels in the Memo of one wallet-signed transaction. */
export interface FundingHook {
  /** Builds the unsigned START transaction (wire bytes) for this grant text and session key. */
  buildStart(grantText: string, grant: Grant): Promise<Uint8Array>;
  /** Sends the wallet-signed START transaction to the chain and waits for confirmation. */
  send(signedWire: Uint8Array): Promise<void>;
  /**
   * END, signed by the session key (no prompt): returns what is left of a funded session's
   * allowance and its fee lamports to the wallet. Resolves to null when nothing was left.
   * The manager calls it before it destroys a funded session's keys (revoke, replacement)
   * and from `endFunds()`.
   */
  end?(grant: Grant, keys: SessionKeys): Promise<unknown>;
}

/** What happened when the manager returned a funded session's leftovers (END). */
export type FundsEnded =
  | { readonly grantId: GrantId; readonly ok: true; readonly result: unknown }
  | { readonly grantId: GrantId; readonly ok: false; readonly error: unknown };

export interface PreparedSession {
  readonly keyId: string;
  readonly keys: SessionKeys;
  readonly grant: Grant;
  /** Exactly what the wallet will sign. */
  readonly text: string;
  readonly policy: SessionPolicy;
}

/** A session past its expiry, as this device recorded it; its keys may be gone. */
export type EndedSession = Omit<ActiveSession, "keys">;

/**
 * How long after its expiry an unfunded session's keys are kept while its outbox still
 * holds actions signed in time: the nodes' late grace, during which they are still taken.
 */
export const KEY_AFTERLIFE_MS = POLICY_DEFAULTS.lateGraceMs;

export interface ActiveSession {
  readonly slot: string;
  readonly grantId: GrantId;
  readonly grant: Grant;
  readonly keys: SessionKeys;
  readonly record: SessionRecord;
}

/**
 * Where `autoRenew()` keeps its timer: the real `setTimeout` by default; tests pass one
 * they run by hand. `set` returns a handle `clear` takes.
 */
export interface RenewScheduler {
  set(run: () => Promise<void>, delayMs: number): unknown;
  clear(handle: unknown): void;
}

/** The longest delay `setTimeout` keeps (about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const REAL_SCHEDULER: RenewScheduler = {
  set(run, delayMs) {
    const handle = setTimeout(() => void run(), delayMs);
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clear(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export interface AutoRenewOptions {
  readonly scheduler?: RenewScheduler;
  /** Told of each renewal (the new session). */
  readonly onRenewed?: (session: ActiveSession) => void;
  /** Told when a renewal failed or was declined; that session is not asked about again. */
  readonly onError?: (error: unknown) => void;
}

export interface SessionManagerOptions {
  readonly store: SessionStore;
  readonly api: NodeApi;
  readonly app: AppIdentity;
  /** The wallet's address; its signer can be attached later with `connect`. */
  readonly walletAddress: WalletAddress;
  /**
   * The signer, or a function that opens it only when a step needs a signature (a CLI
   * reads its wallet file then, and never for actions the session key signs alone).
   */
  readonly wallet?: Wallet | (() => Wallet);
  readonly funding?: FundingHook;
  /**
   * Told of every END the manager ran (on revoke or replacement), and of its failures: the
   * keys are destroyed anyway, and the wallet can still RECOVER the account (one prompt).
   */
  readonly onFundsEnded?: (event: FundsEnded) => void;
  /**
   * The renew window: a session is due for renewal when less than `renewBeforeMs`
   * (default 10 minutes) AND less than `renewFraction` of its duration (default 0.1) are
   * left; the smaller of the two, so a short session is never due at birth. The next
   * action of a due session renews it first (one prompt), or the app calls `renew()`.
   */
  readonly renewBeforeMs?: number;
  readonly renewFraction?: number;
  readonly clock?: () => number;
  readonly random?: (n: number) => Uint8Array;
}

const DEFAULT_STATEMENT =
  "Let this app act for me on Sesame, only within the permissions and limits below.";

/** What a grant allows together with what a policy asks: each limit the larger one. */
function union(grant: Grant, policy: SessionPolicy): SessionPolicy {
  const scopes = SCOPES.filter((s) => grant.scopes.includes(s) || policy.scopes.includes(s));
  const larger = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || b === null ? null : Math.max(a ?? 0, b ?? 0);
  const limits: Partial<Record<Scope, ScopeLimit>> = {};
  for (const s of scopes) {
    const have = grant.scopes.includes(s) ? grant.limits[s] : undefined;
    const want = policy.scopes.includes(s)
      ? (policy.limits[s] ?? { total: null, perHour: null })
      : undefined;
    limits[s] =
      have === undefined
        ? (want as ScopeLimit)
        : want === undefined
          ? have
          : { total: larger(have.total, want.total), perHour: larger(have.perHour, want.perHour) };
  }
  return {
    scopes,
    limits,
    durationMs: Math.max(policy.durationMs, 1),
    statement: policy.statement ?? grant.statement,
    tipBudget: policy.tipBudget ?? grant.tipBudget,
  };
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * Starts, resumes, renews and ends sessions. Starting costs exactly one wallet prompt;
 * resuming costs none; revoking costs one (the wallet signs the revocation).
 */
export class SessionManager {
  #wallet: Wallet | (() => Wallet) | undefined;
  #verifier: ReadVerifier | undefined;
  #renewing: Promise<ActiveSession> | undefined;
  readonly #clock: () => number;
  readonly #random: (n: number) => Uint8Array;

  constructor(private readonly options: SessionManagerOptions) {
    this.#wallet = options.wallet;
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? ((n) => globalThis.crypto.getRandomValues(new Uint8Array(n)));
  }

  get walletAddress(): WalletAddress {
    return this.options.walletAddress;
  }

  /** One slot per app and wallet on this device. */
  get slot(): string {
    return `${this.options.app.domain}|${this.options.walletAddress}`;
  }

  /**
   * The verifier of the sessions list this manager acts on (destroying keys, ending funds):
   * a `SocialClient` built with this manager attaches its own.
   */
  useVerifier(verifier: ReadVerifier): void {
    this.#verifier ??= verifier;
  }

  connect(wallet: Wallet): void {
    if (wallet.address !== this.options.walletAddress) {
      throw new SesameClientError("WRONG_WALLET", {
        expected: this.options.walletAddress,
        actual: wallet.address,
      });
    }
    this.#wallet = wallet;
  }

  /** Whether a wallet is attached, so a step that needs a prompt can ask for one. */
  get canPrompt(): boolean {
    return this.#wallet !== undefined;
  }

  #requireWallet(step: string): Wallet {
    if (this.#wallet === undefined) throw new SesameClientError("WALLET_REQUIRED", { step });
    if (typeof this.#wallet === "function") {
      const opened = this.#wallet();
      this.connect(opened);
    }
    return this.#wallet as Wallet;
  }

  /** The grant a policy would produce now, for the consent screen (no prompt, no keys kept). */
  preview(
    policy: SessionPolicy,
    keys: Pick<SessionKeys, "sessionKey" | "encryptionKey">,
    nonce?: string,
  ): Grant {
    const now = this.#clock();
    const app = this.options.app;
    return validateGrant({
      version: 1,
      domain: app.domain,
      wallet: this.options.walletAddress,
      statement: policy.statement ?? DEFAULT_STATEMENT,
      uri: app.uri,
      chain: app.chain,
      network: app.network,
      device: app.device,
      sessionKey: keys.sessionKey,
      encryptionKey: keys.encryptionKey,
      // The grant lists scopes once each, in the protocol's order, whatever order asked.
      scopes: SCOPES.filter((s) => policy.scopes.includes(s)),
      limits: Object.fromEntries(
        policy.scopes.map((s) => [s, policy.limits[s] ?? { total: null, perHour: null }]),
      ),
      tipBudget: policy.scopes.includes("tip") ? (policy.tipBudget ?? null) : null,
      issuedAt: now,
      notBefore: now,
      expirationTime: now + policy.durationMs,
      nonce: nonce ?? toBase58(this.#random(16)),
    });
  }

  /**
   * Prepares a session without any prompt: fresh keys and the exact grant text the
   * wallet will be asked to sign, for the consent screen. `confirm` then asks the wallet
   * once; `discard` throws the keys away.
   */
  async prepare(policy: SessionPolicy): Promise<PreparedSession> {
    const { keyId, keys } = await this.options.store.generateKeys();
    const grant = this.preview(policy, keys);
    return Object.freeze({ keyId, keys, grant, text: grantToText(grant), policy });
  }

  async discard(prepared: PreparedSession): Promise<void> {
    await this.options.store.destroyKeys(prepared.keyId);
  }

  /**
   * Asks the wallet ONCE (a message, or the funded START transaction), registers the
   * grant with the node, then saves the session.
   */
  async confirm(prepared: PreparedSession): Promise<ActiveSession> {
    const wallet = this.#requireWallet("starting a session");
    const { store, api } = this.options;
    const { keyId, keys, grant, text, policy } = prepared;
    let signature: string;
    let transaction: string | null = null;
    const funded = policy.scopes.includes("tip") && this.options.funding !== undefined;
    const previous = await store.getRecord(this.slot);
    try {
      if (funded) {
        const funding = this.options.funding as FundingHook;
        const [signed] = await wallet.signTransactions([await funding.buildStart(text, grant)]);
        if (signed === undefined) throw new Error("the wallet returned no transaction");
        // The replaced session returns its leftovers first: START makes the new key the
        // delegate, after which the old key could no longer move its allowance back.
        await this.#endFunds(previous);
        await funding.send(signed);
        transaction = bytesToBase64(signed);
        await api.postGrant({ text, transaction });
        // The wallet's (fee payer's) signature is the first one on the wire, after its count.
        signature = toBase58(signed.slice(1, 65));
      } else {
        signature = toBase58(await wallet.signMessage(utf8(text)));
        await api.postGrant({ text, signature: signature as Signature });
        await this.#endFunds(previous);
      }
    } catch (e) {
      await store.destroyKeys(keyId);
      throw e;
    }
    // The replaced session stays live on the nodes until it expires or is revoked, and
    // DMs may still be encrypted to it: its keys stay (for reading only) until then.
    const now = this.#clock();
    const retired: RetiredSession[] = (previous?.retired ?? []).filter((r) => r.keyId !== keyId);
    if (
      previous !== undefined &&
      previous.keyId !== keyId &&
      (previous.revokedAt === undefined || previous.revokedAt === null) &&
      previous.expirationTime > now
    ) {
      retired.push({
        keyId: previous.keyId,
        grantId: previous.grantId,
        expirationTime: previous.expirationTime,
      });
    }
    const record: SessionRecord = {
      keyId,
      grantId: grantIdOfText(text),
      wallet: grant.wallet,
      text,
      signature,
      transaction,
      expirationTime: grant.expirationTime,
      nextSeq: 1,
      nextOrd: {},
      // What the replaced session signed but could not deliver yet stays queued: those are
      // complete signed messages, valid under their own grant, and need no key to be sent.
      // The switch keeps the outbox as it is when written, not as it was read before the
      // prompt: actions queued meanwhile stay queued.
      outbox: previous?.outbox ?? [],
      retired,
    };
    if (previous === undefined) await store.putRecord(this.slot, record);
    else await store.replaceSession(this.slot, record);
    // A replaced session that already ended (expired, or revoked here) keeps nothing.
    if (
      previous !== undefined &&
      previous.keyId !== keyId &&
      !retired.some((r) => r.keyId === previous.keyId)
    ) {
      await store.destroyKeys(previous.keyId);
    }
    await this.pruneRetired();
    const saved = (await store.getRecord(this.slot)) ?? record;
    return { slot: this.slot, grantId: record.grantId, grant, keys, record: saved };
  }

  /**
   * prepare + confirm: one wallet prompt. `onGrant` sees the exact text first; if it
   * throws (or rejects), nothing is signed and the fresh keys are destroyed.
   */
  async start(policy: SessionPolicy, onGrant?: GrantHook): Promise<ActiveSession> {
    const prepared = await this.prepare(policy);
    try {
      await onGrant?.(prepared.text);
    } catch (e) {
      await this.discard(prepared);
      throw e;
    }
    return await this.confirm(prepared);
  }

  /** What this device knows of its session for this app and wallet (no prompt). */
  async status(): Promise<
    | { readonly state: "none" }
    | { readonly state: "revoked"; readonly grantId: GrantId; readonly revokedAt: number }
    | { readonly state: "expired"; readonly session: EndedSession }
    | { readonly state: "active"; readonly session: ActiveSession }
  > {
    const record = await this.options.store.getRecord(this.slot);
    if (record === undefined) return { state: "none" };
    if (record.revokedAt !== undefined && record.revokedAt !== null) {
      return { state: "revoked", grantId: record.grantId, revokedAt: record.revokedAt };
    }
    const grant = parseGrantText(record.text);
    if (grant.expirationTime <= this.#clock()) {
      await this.#endExpiredKeys(record, grant);
      return {
        state: "expired",
        session: { slot: this.slot, grantId: record.grantId, grant, record },
      };
    }
    const session = await this.resume();
    if (session === undefined) return { state: "none" };
    return { state: "active", session };
  }

  /**
   * Keys die with the session (docs/PROTOCOL.md §6.6): an expired session's keys are
   * destroyed, unless they still have work — a funded session's key signs END (the funds
   * sweeper destroys it after), and actions signed in time may still go out of the outbox
   * during the nodes' late grace.
   */
  async #endExpiredKeys(record: SessionRecord, grant: Grant): Promise<void> {
    if (grant.tipBudget !== null) return;
    const now = this.#clock();
    if (record.outbox.length > 0 && now < grant.expirationTime + KEY_AFTERLIFE_MS) return;
    await this.options.store.destroyKeys(record.keyId);
  }

  /** The saved session of this app and wallet, with no prompt; undefined if none or revoked. */
  async resume(): Promise<ActiveSession | undefined> {
    await this.pruneRetired();
    const record = await this.options.store.getRecord(this.slot);
    if (record === undefined || (record.revokedAt !== undefined && record.revokedAt !== null))
      return undefined;
    const grant = parseGrantText(record.text);
    if (grant.expirationTime <= this.#clock()) await this.#endExpiredKeys(record, grant);
    const keys = await this.options.store.loadKeys(record.keyId);
    if (keys === undefined) return undefined;
    return { slot: this.slot, grantId: record.grantId, grant, keys, record };
  }

  /** How long before its expiry a session is due for renewal (see `renewBeforeMs`). */
  renewWindowMs(grant: Pick<Grant, "notBefore" | "expirationTime">): number {
    const before = this.options.renewBeforeMs ?? 10 * 60_000;
    const fraction = this.options.renewFraction ?? 0.1;
    return Math.min(before, fraction * (grant.expirationTime - grant.notBefore));
  }

  /** Is the session inside its renew window (or past its end)? */
  renewalDue(session: Pick<ActiveSession, "grant">): boolean {
    const g = session.grant;
    return g.expirationTime - this.renewWindowMs(g) <= this.#clock();
  }

  /**
   * The session to act with: a due one is renewed first (one prompt) when a wallet is
   * attached, else it is used as it is while it lasts.
   */
  async renewIfDue(session: ActiveSession, onGrant?: GrantHook) {
    if (!this.renewalDue(session) || !this.canPrompt) return session;
    return await this.renew(onGrant);
  }

  /** Does the saved session allow this policy for a while yet (outside its renew window)? */
  covers(session: ActiveSession, policy: SessionPolicy): boolean {
    if (this.renewalDue(session)) return false;
    return policy.scopes.every((scope) => {
      const have = session.grant.limits[scope];
      const want = policy.limits[scope] ?? { total: null, perHour: null };
      if (have === undefined) return false;
      const enough = (h: number | null, w: number | null) => h === null || (w !== null && w <= h);
      return enough(have.total, want.total) && enough(have.perHour, want.perHour);
    });
  }

  /**
   * The current session if it covers `policy`, else a new one (one prompt). The new grant
   * asks for what `policy` needs on top of what the current one already allows (each
   * limit the larger of the two), so adding a scope never takes another away.
   */
  async ensure(policy: SessionPolicy, onGrant?: GrantHook): Promise<ActiveSession> {
    const current = await this.resume();
    if (current !== undefined && this.covers(current, policy)) return current;
    const live =
      current !== undefined && current.grant.expirationTime > this.#clock() ? current : undefined;
    return await this.start(live === undefined ? policy : union(live.grant, policy), onGrant);
  }

  /**
   * Renews this device's session when it enters its renew window (`renewBeforeMs`,
   * `renewFraction`), with one wallet prompt, then waits for the new session's window:
   * an app calls it once after `start()` or `resume()`. Nothing is asked when there is no
   * live session or no wallet. A declined or failed renewal is reported to `onError`
   * and not asked again for that session (it acts until it ends). Returns `stop`.
   */
  autoRenew(options: AutoRenewOptions = {}): () => void {
    const scheduler = options.scheduler ?? REAL_SCHEDULER;
    let handle: unknown;
    let stopped = false;
    const arm = async (): Promise<void> => {
      if (stopped) return;
      const session = await this.resume();
      if (session === undefined || stopped) return;
      const due = session.grant.expirationTime - this.renewWindowMs(session.grant);
      const delay = Math.min(Math.max(0, due - this.#clock()), MAX_TIMER_MS);
      handle = scheduler.set(async () => {
        handle = undefined;
        if (stopped) return;
        const current = await this.resume();
        // Replaced meanwhile (an action renewed it, or the app did): wait for the new one.
        if (current === undefined || current.grantId !== session.grantId) return await arm();
        if (!this.renewalDue(current)) return await arm();
        if (!this.canPrompt) return;
        let renewed: ActiveSession;
        try {
          renewed = await this.renew();
        } catch (e) {
          options.onError?.(e);
          return;
        }
        options.onRenewed?.(renewed);
        await arm();
      }, delay);
    };
    void arm().catch((e: unknown) => options.onError?.(e));
    return () => {
      stopped = true;
      if (handle !== undefined) scheduler.clear(handle);
      handle = undefined;
    };
  }

  /**
   * A fresh session with the same permissions and duration (one prompt). Calls that
   * overlap (the renew timer and an action in the window) share one renewal: one prompt.
   */
  renew(onGrant?: GrantHook): Promise<ActiveSession> {
    this.#renewing ??= this.#renewOnce(onGrant).finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(onGrant?: GrantHook): Promise<ActiveSession> {
    // The permissions of the session this device holds, live or expired (its keys may be
    // gone: renewing needs only its grant).
    const record = await this.options.store.getRecord(this.slot);
    if (record === undefined || (record.revokedAt !== undefined && record.revokedAt !== null))
      throw new SesameClientError("NOTHING_TO_RENEW", {});
    const g = parseGrantText(record.text);
    return await this.start(
      {
        scopes: g.scopes,
        limits: g.limits,
        durationMs: g.expirationTime - g.notBefore,
        statement: g.statement,
        tipBudget: g.tipBudget,
      },
      onGrant,
    );
  }

  async #revoke(target: Revocation["target"], compromisedSince: number | null) {
    const wallet = this.#requireWallet("revoking");
    const revocation = validateRevocation({
      version: 1,
      wallet: this.options.walletAddress,
      network: this.options.app.network,
      target,
      compromisedSince,
      issuedAt: this.#clock(),
      nonce: toBase58(this.#random(16)),
    });
    const text = revocationToText(revocation);
    const signature = toBase58(await wallet.signMessage(utf8(text))) as Signature;
    const result = await this.options.api.postRevocation({ text, signature });
    return { result, issuedAt: revocation.issuedAt };
  }

  /**
   * Revokes one session (default: this device's), with one wallet prompt. When the key
   * is thought stolen, `compromisedSince` hides what nodes received from then on.
   */
  async revoke(grantId?: GrantId, compromisedSince: number | null = null) {
    const current = await this.options.store.getRecord(this.slot);
    const target = grantId ?? current?.grantId;
    if (target === undefined)
      throw new ProtocolError(ErrorCode.NOT_FOUND, { what: "a session to revoke" });
    const { result, issuedAt } = await this.#revoke(
      { kind: "grant", grant: target },
      compromisedSince,
    );
    if (current !== undefined && current.grantId === target) {
      await this.#endFunds(current);
      // Revoked as of the time the wallet signed in the revocation.
      await this.#forget(current, issuedAt);
    }
    // A replaced session of this device, still live until now: its keys die with it.
    await this.pruneRetired([target]);
    return result;
  }

  /** Revokes every session of the wallet issued until now, on every app and device. */
  async revokeAll(compromisedSince: number | null = null) {
    const { result, issuedAt } = await this.#revoke(
      { kind: "all", issuedBefore: this.#clock() },
      compromisedSince,
    );
    const current = await this.options.store.getRecord(this.slot);
    if (current !== undefined) {
      await this.pruneRetired((current.retired ?? []).map((r) => r.grantId));
      if (current.revokedAt === undefined || current.revokedAt === null) {
        await this.#endFunds(current);
        await this.#forget(current, issuedAt);
      }
    }
    return result;
  }

  /**
   * END for this device's funded session, with no prompt: what is left of its tip
   * allowance and its fee lamports go back to the wallet. For an expired session (the
   * chain does not know about expiry), or whenever the app is done with the funds.
   * Resolves to the funding hook's answer (null when nothing was left), or undefined when
   * there is no funded session whose keys this device holds. Failures reject.
   */
  async endFunds(): Promise<unknown> {
    const record = await this.options.store.getRecord(this.slot);
    const end = this.options.funding?.end;
    if (record === undefined || end === undefined) return undefined;
    if (record.revokedAt !== undefined && record.revokedAt !== null) return undefined;
    const grant = parseGrantText(record.text);
    if (grant.tipBudget === null) return undefined;
    const keys = await this.options.store.loadKeys(record.keyId);
    if (keys === undefined) return undefined;
    return await end.call(this.options.funding, grant, keys);
  }

  /** Best effort END of a session about to lose its keys; reported to `onFundsEnded`. */
  async #endFunds(record: SessionRecord | undefined): Promise<void> {
    const funding = this.options.funding;
    if (record === undefined || funding?.end === undefined) return;
    if (record.revokedAt !== undefined && record.revokedAt !== null) return;
    let event: FundsEnded;
    try {
      const grant = parseGrantText(record.text);
      if (grant.tipBudget === null) return;
      const keys = await this.options.store.loadKeys(record.keyId);
      if (keys === undefined) return;
      event = { grantId: record.grantId, ok: true, result: await funding.end(grant, keys) };
    } catch (error) {
      event = { grantId: record.grantId, ok: false, error };
    }
    this.options.onFundsEnded?.(event);
  }

  /**
   * The node refused this session as revoked: destroy its keys on this device too, once
   * the wallet's sessions list, verified (`ReadVerifier`), shows it revoked: a signed
   * revocation covering it, or (the node's word, §12.5) cut off for equivocation. A node
   * that only says "revoked" (a refusal, an unsigned status) cannot make this device
   * destroy its keys. `revokedAt`: the time the refusal (4007) names, else the list's.
   * Unreachable, or a list that does not verify: nothing is destroyed (returns false).
   */
  async forgetRevoked(revokedAt?: number): Promise<boolean> {
    const record = await this.options.store.getRecord(this.slot);
    if (record === undefined) return false;
    let listed: VerifiedSession[];
    try {
      listed = await this.list();
    } catch {
      return false;
    }
    let forgot = false;
    const mine = listed.find((s) => s.grant === record.grantId);
    if (
      mine?.status === "revoked" &&
      (record.revokedAt === undefined || record.revokedAt === null)
    ) {
      // Revoked elsewhere: the leftovers still go back to the wallet first (no prompt).
      await this.#endFunds(record);
      await this.#forget(record, revokedAt ?? mine.revokedAt ?? undefined);
      forgot = true;
    }
    // A revocation of all sessions ends the replaced ones too.
    if ((record.retired ?? []).length > 0) await this.readingKeys(listed);
    return forgot;
  }

  /** Destroys the keys; keeps a tombstone so the next action says "revoked", not "none". */
  async #forget(record: SessionRecord, revokedAt = this.#clock()): Promise<void> {
    await this.options.store.destroyKeys(record.keyId);
    const latest = (await this.options.store.getRecord(this.slot)) ?? record;
    await this.options.store.putRecord(this.slot, {
      ...record,
      retired: latest.retired ?? [],
      outbox: [],
      revokedAt,
    });
  }

  /**
   * Destroys the keys of replaced sessions that have ended: expired by this device's
   * clock, or named in `ended` (revoked, or reported ended by a node). Keys die with the
   * session: what was encrypted to them can no longer be read here.
   */
  async pruneRetired(ended: readonly string[] = []): Promise<void> {
    const { store } = this.options;
    const record = await store.getRecord(this.slot);
    const retired = record?.retired ?? [];
    if (retired.length === 0) return;
    const now = this.#clock();
    const gone = retired.filter((r) => r.expirationTime <= now || ended.includes(r.grantId));
    if (gone.length === 0) return;
    for (const r of gone) await store.destroyKeys(r.keyId);
    await store.forgetRetired(
      this.slot,
      gone.map((r) => r.keyId),
    );
  }

  /**
   * Every key set this device may still read direct messages with: the current session's
   * and those of replaced sessions that are still live. With `nodeSessions` (the wallet's
   * sessions as a `ReadVerifier` verified them), replaced sessions that ended are pruned
   * first: revoked (a verified revocation, or equivocation), or expired by this device's
   * clock (a node saying "expired" before the grant's end is not believed).
   */
  async readingKeys(
    nodeSessions?: readonly VerifiedSession[],
  ): Promise<{ readonly grantId: GrantId; readonly keys: SessionKeys }[]> {
    if (nodeSessions !== undefined) {
      const now = this.#clock();
      await this.pruneRetired(
        nodeSessions
          .filter(
            (s) =>
              s.status === "revoked" ||
              (s.status === "expired" && s.verified.grant.expirationTime <= now),
          )
          .map((s) => s.grant),
      );
    } else {
      await this.pruneRetired();
    }
    const record = await this.options.store.getRecord(this.slot);
    if (record === undefined) return [];
    const out: { grantId: GrantId; keys: SessionKeys }[] = [];
    const live = record.revokedAt === undefined || record.revokedAt === null;
    const all = [
      ...(live ? [{ keyId: record.keyId, grantId: record.grantId }] : []),
      ...(record.retired ?? []),
    ];
    for (const r of all) {
      const keys = await this.options.store.loadKeys(r.keyId);
      if (keys !== undefined) out.push({ grantId: r.grantId, keys });
    }
    return out;
  }

  /**
   * Every session of this wallet, across apps and devices, as the node lists them, each
   * grant and revocation verified (`FORGED_READ` if one does not). Needs the verifier a
   * `SocialClient` built with this manager attaches (`useVerifier`).
   */
  async list(): Promise<VerifiedSession[]> {
    if (this.#verifier === undefined)
      throw new Error("SessionManager.list() needs a verifier: build a SocialClient with it");
    return await this.#verifier.sessions(
      this.options.walletAddress,
      await this.options.api.sessions(this.options.walletAddress),
    );
  }
}
