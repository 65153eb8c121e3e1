import {
  ErrorCode,
  type Grant,
  type GrantId,
  grantIdOfText,
  grantToText,
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
import type { SessionKeys, SessionRecord, SessionStore } from "./keys.js";
import type { NodeApi, ServedSession } from "./node-api.js";
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

export interface ActiveSession {
  readonly slot: string;
  readonly grantId: GrantId;
  readonly grant: Grant;
  readonly keys: SessionKeys;
  readonly record: SessionRecord;
}

export interface SessionManagerOptions {
  readonly store: SessionStore;
  readonly api: NodeApi;
  readonly app: AppIdentity;
  /** The wallet's address; its signer can be attached later with `connect`. */
  readonly walletAddress: WalletAddress;
  readonly wallet?: Wallet;
  readonly funding?: FundingHook;
  /**
   * Told of every END the manager ran (on revoke or replacement), and of its failures: the
   * keys are destroyed anyway, and the wallet can still RECOVER the account (one prompt).
   */
  readonly onFundsEnded?: (event: FundsEnded) => void;
  /** Start a new session this long before the current one expires. Default 10 minutes. */
  readonly renewBeforeMs?: number;
  readonly clock?: () => number;
  readonly random?: (n: number) => Uint8Array;
}

const DEFAULT_STATEMENT =
  "Let this app act for me on Sesame, only within the permissions and limits below.";

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
  #wallet: Wallet | undefined;
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

  connect(wallet: Wallet): void {
    if (wallet.address !== this.options.walletAddress)
      throw new Error("this wallet is not the session's wallet");
    this.#wallet = wallet;
  }

  #requireWallet(): Wallet {
    if (this.#wallet === undefined)
      throw new Error("connect the wallet first: this step needs its signature");
    return this.#wallet;
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
    const wallet = this.#requireWallet();
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
      outbox: previous?.outbox ?? [],
    };
    await store.putRecord(this.slot, record);
    // The replaced session's keys are of no further use on this device.
    if (previous !== undefined && previous.keyId !== keyId) {
      await store.destroyKeys(previous.keyId);
    }
    return { slot: this.slot, grantId: record.grantId, grant, keys, record };
  }

  /** prepare + confirm: one wallet prompt. `onGrant` sees the exact text first. */
  async start(policy: SessionPolicy, onGrant?: (text: string) => void): Promise<ActiveSession> {
    const prepared = await this.prepare(policy);
    try {
      onGrant?.(prepared.text);
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
    | { readonly state: "expired"; readonly session: ActiveSession }
    | { readonly state: "active"; readonly session: ActiveSession }
  > {
    const record = await this.options.store.getRecord(this.slot);
    if (record === undefined) return { state: "none" };
    if (record.revokedAt !== undefined && record.revokedAt !== null) {
      return { state: "revoked", grantId: record.grantId, revokedAt: record.revokedAt };
    }
    const session = await this.resume();
    if (session === undefined) return { state: "none" };
    return session.grant.expirationTime <= this.#clock()
      ? { state: "expired", session }
      : { state: "active", session };
  }

  /** The saved session of this app and wallet, with no prompt; undefined if none or revoked. */
  async resume(): Promise<ActiveSession | undefined> {
    const record = await this.options.store.getRecord(this.slot);
    if (record === undefined || (record.revokedAt !== undefined && record.revokedAt !== null))
      return undefined;
    const keys = await this.options.store.loadKeys(record.keyId);
    if (keys === undefined) return undefined;
    return {
      slot: this.slot,
      grantId: record.grantId,
      grant: parseGrantText(record.text),
      keys,
      record,
    };
  }

  /** Does the saved session allow this policy for a while yet? */
  covers(session: ActiveSession, policy: SessionPolicy): boolean {
    const renewBefore = this.options.renewBeforeMs ?? 10 * 60_000;
    if (session.grant.expirationTime - renewBefore <= this.#clock()) return false;
    return policy.scopes.every((scope) => {
      const have = session.grant.limits[scope];
      const want = policy.limits[scope] ?? { total: null, perHour: null };
      if (have === undefined) return false;
      const enough = (h: number | null, w: number | null) => h === null || (w !== null && w <= h);
      return enough(have.total, want.total) && enough(have.perHour, want.perHour);
    });
  }

  /** The current session if it covers `policy`, else a new one (one prompt). */
  async ensure(policy: SessionPolicy, onGrant?: (text: string) => void): Promise<ActiveSession> {
    const current = await this.resume();
    if (current !== undefined && this.covers(current, policy)) return current;
    return await this.start(policy, onGrant);
  }

  /** A fresh session with the same permissions and duration (one prompt). */
  async renew(onGrant?: (text: string) => void): Promise<ActiveSession> {
    const current = await this.resume();
    if (current === undefined) throw new Error("no session to renew");
    const g = current.grant;
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
    const wallet = this.#requireWallet();
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
    return await this.options.api.postRevocation({ text, signature });
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
    const result = await this.#revoke({ kind: "grant", grant: target }, compromisedSince);
    if (current !== undefined && current.grantId === target) {
      await this.#endFunds(current);
      await this.#forget(current);
    }
    return result;
  }

  /** Revokes every session of the wallet issued until now, on every app and device. */
  async revokeAll(compromisedSince: number | null = null) {
    const result = await this.#revoke(
      { kind: "all", issuedBefore: this.#clock() },
      compromisedSince,
    );
    const current = await this.options.store.getRecord(this.slot);
    if (current !== undefined) {
      await this.#endFunds(current);
      await this.#forget(current);
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

  /** The node refused this session as revoked: destroy its keys on this device too. */
  async forgetRevoked(): Promise<void> {
    const record = await this.options.store.getRecord(this.slot);
    if (record !== undefined && (record.revokedAt === undefined || record.revokedAt === null)) {
      // Revoked elsewhere: the leftovers still go back to the wallet first (no prompt).
      await this.#endFunds(record);
      await this.#forget(record);
    }
  }

  /** Destroys the keys; keeps a tombstone so the next action says "revoked", not "none". */
  async #forget(record: SessionRecord): Promise<void> {
    await this.options.store.destroyKeys(record.keyId);
    await this.options.store.putRecord(this.slot, {
      ...record,
      outbox: [],
      revokedAt: this.#clock(),
    });
  }

  /** Every session of this wallet, across apps and devices, as the node sees them. */
  async list(): Promise<ServedSession[]> {
    return await this.options.api.sessions(this.options.walletAddress);
  }
}
