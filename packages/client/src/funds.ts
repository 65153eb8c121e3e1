/**
 * The funds tier for apps: a funded START as the session's one wallet prompt, tips sent
 * with the session key (no prompt), END with no prompt, and RECOVER with one. Runs in
 * browsers and Node: it uses only `@sesame/solana/client` (no embedded chain).
 */
import {
  type ActionId,
  actionIdOf,
  ErrorCode,
  type Grant,
  type MintAddress,
  ProtocolError,
  type Signature,
  type SignedAction,
  toBase58,
  type WalletAddress,
} from "@sesame/protocol";
import {
  type Chain,
  decodeTokenAccount,
  type EndedSession,
  encodeWire,
  endSession,
  findSessionTokenAccounts,
  fromBase64,
  type Priority,
  prepareRecover,
  prepareStartSession,
  prepareTip,
  programsOfWire,
  type RpcChainOptions,
  remainingAllowance,
  rpcChain,
  type SessionTokenAccount,
  sessionTokenAccountAddress,
  signTransaction,
  type TransactionSignature,
  toBase64,
} from "@sesame/solana/client";
import {
  type Address,
  address,
  getSignatureFromTransaction,
  getTransactionEncoder,
  type SignatureBytes,
  type Transaction,
  type TransactionPartialSigner,
} from "@solana/kit";
import type { SessionKeys } from "./keys.js";
import type { NodeApi } from "./node-api.js";
import type { FundingHook, SessionManager } from "./session-manager.js";
import type { SendResult, SocialClient } from "./social-client.js";
import type { Wallet } from "./wallet.js";

const txEncoder = getTransactionEncoder();

// ---------------------------------------------------------------------------------------
// Amounts

/** `"1.5"` tokens with 6 decimals → `1500000n` base units. Refuses more decimals than the mint. */
export function parseTokenAmount(text: string, decimals: number): bigint {
  const t = text.trim();
  const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
  if (t === "" || t === "." || m === null) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "amount",
      reason: "must be a number of tokens, like 1 or 2.5",
    });
  }
  const whole = m[1] ?? "";
  const fraction = m[2] ?? "";
  if (fraction.length > decimals) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "amount",
      reason: `has more than ${decimals} decimals`,
    });
  }
  return BigInt(`${whole || "0"}${fraction.padEnd(decimals, "0")}`);
}

// ---------------------------------------------------------------------------------------
// Device id and the session key as a kit signer

/** Anything like `localStorage`. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * This device's id for its session token accounts: random the first time, then the same
 * for good (kept in `storage`, e.g. `localStorage`). A stable id lets every session on the
 * device reuse its token account (the rent is paid once); a lost id loses nothing (the
 * wallet finds and recovers its accounts with `findSessionTokenAccounts`).
 */
export function persistentDeviceId(storage: KeyValueStorage, key = "sesame-device-id"): string {
  const saved = storage.getItem(key);
  if (saved !== null && saved.length > 0 && saved.length <= 128) return saved;
  const fresh = toBase58(globalThis.crypto.getRandomValues(new Uint8Array(16)));
  storage.setItem(key, fresh);
  return fresh;
}

/**
 * The session key as a `@solana/kit` partial signer. It signs the transaction's message
 * bytes through `SessionKeys.sign`, so the key itself never leaves its store (a
 * non-extractable WebCrypto key in browsers).
 */
export function sessionKeySigner(keys: Pick<SessionKeys, "sessionKey" | "sign">) {
  const signer: TransactionPartialSigner = Object.freeze({
    address: address(keys.sessionKey),
    async signTransactions(transactions: readonly Transaction[]) {
      const out = [];
      for (const tx of transactions) {
        const signature = await keys.sign(Uint8Array.from(tx.messageBytes));
        out.push(Object.freeze({ [signer.address]: signature as SignatureBytes }));
      }
      return out;
    },
  });
  return signer;
}

// ---------------------------------------------------------------------------------------
// The funding hook: START as the one prompt, END with none

export interface ChainFundingOptions {
  /** This device's id (see `persistentDeviceId`). */
  readonly deviceId: string;
  /** The chain's Memo program (`GET /v1/chain` → memoProgram). Default Memo v3. */
  readonly memoProgram?: Address;
  /** Lamports for the session key's fees. Default 0.005 SOL. */
  readonly feeTopUp?: bigint;
  readonly priority?: Priority;
  /** How long to wait for a confirmation, ms. Default 60 s. */
  readonly confirmTimeoutMs?: number;
}

function flowOptions(options: Pick<ChainFundingOptions, "memoProgram" | "priority">) {
  return {
    ...(options.memoProgram === undefined ? {} : { memoProgram: options.memoProgram }),
    ...(options.priority === undefined ? {} : { priority: options.priority }),
  };
}

/**
 * A `FundingHook` over a chain (e.g. `rpcChain(origin + "/rpc")`): `buildStart` reads the
 * chain and builds START for the wallet to sign (the session's one prompt), `send`
 * submits and confirms it, `end` returns the leftovers with the session key (no prompt).
 */
export function chainFunding(chain: Chain, options: ChainFundingOptions): Required<FundingHook> {
  // What `send` needs of the transactions `buildStart` made: when the blockhash expires.
  const built = new Map<string, bigint>();
  const messageKey = (messageBytes: Uint8Array) => toBase64(messageBytes);
  return Object.freeze({
    async buildStart(grantText: string, _grant: Grant): Promise<Uint8Array> {
      const start = await prepareStartSession(chain, {
        grantText,
        deviceId: options.deviceId,
        ...(options.feeTopUp === undefined ? {} : { feeTopUp: options.feeTopUp }),
        ...flowOptions(options),
      });
      if (built.size > 16) built.clear();
      built.set(
        messageKey(Uint8Array.from(start.transaction.messageBytes)),
        start.lastValidBlockHeight,
      );
      return Uint8Array.from(txEncoder.encode(start.transaction));
    },
    async send(signedWire: Uint8Array): Promise<void> {
      const count = signedWire[0] ?? 0;
      const lastValid = built.get(messageKey(signedWire.slice(1 + 64 * count)));
      const signature = await chain.sendTransaction(signedWire);
      await chain.confirmTransaction(signature, {
        programs: programsOfWire(signedWire),
        ...(lastValid === undefined ? {} : { lastValidBlockHeight: lastValid }),
        ...(options.confirmTimeoutMs === undefined ? {} : { timeoutMs: options.confirmTimeoutMs }),
      });
    },
    async end(grant: Grant, keys: SessionKeys): Promise<EndedSession | null> {
      return await endSession(chain, {
        grant,
        deviceId: options.deviceId,
        sessionSigner: sessionKeySigner(keys),
        ...flowOptions(options),
      });
    },
  });
}

// ---------------------------------------------------------------------------------------
// END when the session is over, with no prompt

/** What `endIfOver` found, and did. */
export type FundsCheck =
  | { readonly state: "none" }
  | { readonly state: "active"; readonly grantId: string }
  | {
      readonly state: "ended";
      readonly grantId: string;
      readonly why: "expired" | "revoked";
      /** The funding hook's END answer: null when nothing was left to return. */
      readonly result: unknown;
    };

/**
 * The chain does not know when a session expires or is revoked, so nothing would return
 * its leftovers: call this on start and resume, and on a timer (`startFundsSweeper`). When
 * this device's funded session has expired, or (asking the node) was revoked from another
 * device, it runs END with the session key — no prompt — so the rest of the allowance goes
 * back to the wallet's main token account and the key's lamports to the wallet. A revoked
 * session's keys are then destroyed here too. Safe to call again: END of an ended session
 * has nothing to move. If the device is gone, the wallet RECOVERs (`recoverFunds`).
 */
export async function endIfOver(
  manager: SessionManager,
  options: { readonly checkNode?: boolean } = {},
): Promise<FundsCheck> {
  const status = await manager.status();
  if (status.state === "expired") {
    const result = await manager.endFunds();
    if (result === undefined) return { state: "none" };
    return { state: "ended", grantId: status.session.grantId, why: "expired", result };
  }
  if (status.state !== "active") return { state: "none" };
  const grantId = status.session.grantId;
  if (status.session.grant.tipBudget === null) return { state: "active", grantId };
  if (options.checkNode ?? true) {
    const served = (await manager.list()).find((s) => s.grant === grantId);
    if (served?.status === "revoked") {
      const result = await manager.endFunds();
      await manager.forgetRevoked(served.revokedAt ?? undefined);
      return { state: "ended", grantId, why: "revoked", result: result ?? null };
    }
  }
  return { state: "active", grantId };
}

export interface FundsSweeper {
  /** Runs the check now (also what the timers do). */
  run(): Promise<FundsCheck>;
  stop(): void;
}

/**
 * Runs `endIfOver` now, every `intervalMs` (default 60 s), and right after the session's
 * expiration time. Outcomes and failures go to the callbacks; a failed END is tried again
 * on the next run. Timers do not keep a Node process alive.
 */
export function startFundsSweeper(
  manager: SessionManager,
  options: {
    readonly intervalMs?: number;
    readonly checkNode?: boolean;
    readonly onCheck?: (check: FundsCheck) => void;
    readonly onError?: (error: unknown) => void;
  } = {},
): FundsSweeper {
  let stopped = false;
  let running: Promise<FundsCheck> | undefined;
  let atExpiry: ReturnType<typeof setTimeout> | undefined;
  const unref = (t: unknown) => (t as { unref?: () => void }).unref?.();
  const run = (): Promise<FundsCheck> => {
    running ??= (async () => {
      try {
        const check = await endIfOver(manager, {
          ...(options.checkNode === undefined ? {} : { checkNode: options.checkNode }),
        });
        if (check.state === "active" && !stopped) {
          const session = await manager.resume();
          if (atExpiry !== undefined) clearTimeout(atExpiry);
          const wait = (session?.grant.expirationTime ?? 0) - Date.now() + 50;
          if (wait > 0 && wait < 2 ** 31 - 1) {
            atExpiry = setTimeout(() => void run().catch(() => undefined), wait);
            unref(atExpiry);
          }
        }
        options.onCheck?.(check);
        return check;
      } catch (e) {
        options.onError?.(e);
        throw e;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const every = setInterval(() => void run().catch(() => undefined), options.intervalMs ?? 60_000);
  unref(every);
  void run().catch(() => undefined);
  return Object.freeze({
    run,
    stop() {
      stopped = true;
      clearInterval(every);
      if (atExpiry !== undefined) clearTimeout(atExpiry);
    },
  });
}

// ---------------------------------------------------------------------------------------
// RECOVER: one wallet prompt

export interface RecoverOptions {
  readonly memoProgram?: Address;
  readonly priority?: Priority;
  /** Close the accounts too, returning their rent. Default false (the device reuses it). */
  readonly close?: boolean;
}

export interface Recovered {
  readonly account: Address;
  readonly signature: TransactionSignature;
  readonly recovered: bigint;
}

/**
 * RECOVER: the wallet takes back the balance of session token accounts (of lost devices,
 * or this one) into its main account and revokes their delegates; optionally closes them.
 * All transactions go to the wallet in one request (one prompt with most wallets).
 */
export async function recoverFunds(
  chain: Chain,
  wallet: Wallet,
  accounts: readonly Address[],
  options: RecoverOptions = {},
): Promise<Recovered[]> {
  if (accounts.length === 0) return [];
  const built = await Promise.all(
    accounts.map((account) =>
      prepareRecover(chain, {
        wallet: wallet.address,
        sessionTokenAccount: account,
        close: options.close ?? false,
        ...flowOptions(options),
      }),
    ),
  );
  const signed = await wallet.signTransactions(
    built.map((b) => Uint8Array.from(txEncoder.encode(b.transaction))),
  );
  const out: Recovered[] = [];
  for (const [i, b] of built.entries()) {
    const wire = signed[i];
    if (wire === undefined) throw new Error("the wallet returned fewer transactions");
    const signature = await chain.sendTransaction(wire);
    await chain.confirmTransaction(signature, {
      programs: b.programs,
      lastValidBlockHeight: b.lastValidBlockHeight,
    });
    out.push(Object.freeze({ account: accounts[i] as Address, signature, recovered: b.balance }));
  }
  return out;
}

/**
 * The wallet's session token accounts for a mint, on every device it ever funded (found
 * from the wallet alone: a lost device's id is not needed) — what RECOVER takes back.
 */
export async function walletSessionAccounts(
  chain: Chain,
  wallet: WalletAddress,
  mint: string,
): Promise<readonly SessionTokenAccount[]> {
  return await findSessionTokenAccounts(chain, wallet, address(mint));
}

// ---------------------------------------------------------------------------------------
// Tips with the session key

export interface TipRetryOptions {
  /** First pause between two deliveries of the tip action, ms. Default 250. */
  readonly delayMs?: number;
  /** Longest pause (the pause doubles up to it), ms. Default 4,000. */
  readonly maxDelayMs?: number;
  /**
   * How long `tip()` keeps delivering before it returns the tip as `queued` (it stays
   * pending: `retryPending()` goes on with it), ms. Default 60,000.
   */
  readonly timeoutMs?: number;
}

export interface TipClientOptions {
  readonly manager: SessionManager;
  readonly social: SocialClient;
  readonly chain: Chain;
  /** The same device id the funding hook uses. */
  readonly deviceId: string;
  readonly memoProgram?: Address;
  readonly priority?: Priority;
  /**
   * Where tips whose money moved but whose action no node has taken yet are kept (e.g.
   * `localStorage`), so a reload goes on with them instead of losing the trail. Default:
   * in memory.
   */
  readonly pendingStorage?: KeyValueStorage;
  readonly retry?: TipRetryOptions;
}

export interface SentTip {
  /** The tip's Solana transaction: confirmed on chain before the action was signed. */
  readonly transaction: TransactionSignature;
  readonly amount: bigint;
  readonly mint: MintAddress;
  readonly decimals: number;
  /**
   * The tip action: accepted by the node, or `queued` while the node is unreachable or
   * does not see the transaction yet (it stays pending: see `TipClient.retryPending`).
   */
  readonly action: SendResult;
}

/**
 * A tip whose transfer was signed (and maybe landed) but whose action no node has taken
 * yet. Kept until a node accepts the action or refuses it for good; never re-signed, so a
 * retry can never move the money twice.
 */
export interface PendingTip {
  readonly grantId: string;
  readonly post: string;
  readonly to: string;
  readonly mint: string;
  readonly decimals: number;
  readonly amount: string;
  /** The TIP transaction as signed by the session key (base64 wire) and its signature. */
  readonly wire: string;
  readonly transaction: string;
  readonly lastValidBlockHeight: string;
  /** The tip action once signed: the very same one is sent until a node settles it. */
  readonly action?: SignedAction;
}

export interface TipBalance {
  readonly mint: MintAddress;
  readonly decimals: number;
  /** The budget the grant states, base units. */
  readonly budget: bigint;
  /** What the session key can still move (the chain's allowance, capped by the balance). */
  readonly remaining: bigint;
  /** The session key's lamports, for fees. */
  readonly lamports: bigint;
  readonly sessionTokenAccount: Address;
}

/** Node answers to a tip action that mean "later", not "never". */
function isRetryableTipRefusal(e: unknown): boolean {
  return (
    e instanceof ProtocolError &&
    (e.code === ErrorCode.TIP_NOT_ON_CHAIN ||
      e.code === ErrorCode.UNAVAILABLE ||
      e.code === ErrorCode.INTERNAL ||
      e.code === ErrorCode.TOO_MANY_REQUESTS ||
      e.code === ErrorCode.REQUEST_TIMEOUT ||
      e.code === ErrorCode.WRITE_OUTCOME_UNKNOWN)
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class MemoryKeyValue implements KeyValueStorage {
  readonly #map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.#map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#map.set(key, value);
  }
}

/**
 * Tips for a funded session: the session key moves the tokens on chain as the delegate of
 * the device's session token account (no wallet prompt), then signs the tip action that
 * names that transaction. The chain enforces the budget; the node verifies the transfer.
 *
 * A tip is kept pending from the moment its transfer is signed until a node accepts its
 * action or refuses it for good. Meanwhile the same signed transfer (sent again, the chain
 * takes it once) and the same signed action are delivered again — when the node is
 * unreachable, or does not see the transaction yet (`7001 TIP_NOT_ON_CHAIN`) — so a
 * retry never moves the money twice and a landed transfer is never left without its tip.
 */
export class TipClient {
  readonly #pendingStorage: KeyValueStorage;
  readonly #pendingKey: string;
  constructor(private readonly options: TipClientOptions) {
    this.#pendingStorage = options.pendingStorage ?? new MemoryKeyValue();
    this.#pendingKey = `sesame-pending-tips:${options.deviceId}`;
  }

  get deviceId(): string {
    return this.options.deviceId;
  }

  /** The active session, with the tip scope and a budget; else the refusal the app shows. */
  async #funded() {
    const session = await this.options.social.session();
    if (!session.grant.scopes.includes("tip") || session.grant.tipBudget === null)
      throw new ProtocolError(ErrorCode.SCOPE_NOT_GRANTED, { scope: "tip" });
    return { session, budget: session.grant.tipBudget };
  }

  /** Tips whose action no node has settled yet (all sessions of this device). */
  pending(): PendingTip[] {
    const text = this.#pendingStorage.getItem(this.#pendingKey);
    if (text === null) return [];
    try {
      const list = JSON.parse(text) as unknown;
      return Array.isArray(list) ? (list as PendingTip[]) : [];
    } catch {
      return [];
    }
  }

  #savePending(tip: PendingTip): void {
    const others = this.pending().filter((p) => p.transaction !== tip.transaction);
    this.#pendingStorage.setItem(this.#pendingKey, JSON.stringify([...others, tip]));
  }

  #dropPending(transaction: string): void {
    const left = this.pending().filter((p) => p.transaction !== transaction);
    this.#pendingStorage.setItem(this.#pendingKey, JSON.stringify(left));
  }

  /**
   * Tips `amount` base units of the session's mint to the author of `post`. No prompt. An
   * amount above what is left of the allowance is refused by the token program, as a
   * ProtocolError 7004 CHAIN_ERROR named `InsufficientFunds`; nothing is signed for the node.
   * Once the transfer is on chain, the tip action is delivered until a node accepts it or
   * refuses it for good (see the class); past `retry.timeoutMs` it resolves as `queued`.
   */
  async tip(
    post: { readonly id: string; readonly wallet: string },
    amount: bigint,
  ): Promise<SentTip> {
    const { session, budget } = await this.#funded();
    // Over the tip cap: refuse before any token moves (the node would refuse the action).
    const cap = session.grant.limits.tip?.total ?? null;
    const ord = session.record.nextOrd.tip ?? 1;
    if (cap !== null && ord > cap) {
      throw new ProtocolError(ErrorCode.OVER_CAP, { scope: "tip", cap, ordinal: ord });
    }
    const deadline = Date.now() + (this.options.retry?.timeoutMs ?? 60_000);
    // The same tip asked again while it is still pending (say, the app showed "queued" and
    // the person pressed Tip again): go on with it; its money already moved.
    const same = this.pending().find(
      (p) =>
        p.grantId === session.grantId &&
        p.post === post.id &&
        p.to === post.wallet &&
        p.amount === amount.toString(),
    );
    if (same !== undefined) return await this.#settle(same, deadline, false);
    const prepared = await prepareTip(this.options.chain, {
      grant: session.grant,
      deviceId: this.options.deviceId,
      author: post.wallet as WalletAddress,
      amount,
      post: post.id as ActionId,
      ...flowOptions(this.options),
    });
    const signed = await signTransaction(prepared.transaction, [sessionKeySigner(session.keys)]);
    const wire = encodeWire(signed);
    const pending: PendingTip = {
      grantId: session.grantId,
      post: post.id,
      to: post.wallet,
      mint: budget.mint,
      decimals: budget.decimals,
      amount: amount.toString(),
      wire: toBase64(wire),
      transaction: getSignatureFromTransaction(signed),
      lastValidBlockHeight: prepared.lastValidBlockHeight.toString(),
    };
    // Kept before it is sent: from here on the trail cannot be lost.
    this.#savePending(pending);
    return await this.#settle(pending, deadline, true);
  }

  /** Lands the tip's transfer (the same wire), then delivers its action (the same one). */
  async #settle(tip: PendingTip, deadline: number, fresh: boolean): Promise<SentTip> {
    try {
      await this.#land(tip, deadline, fresh);
    } catch (e) {
      // Refused by the chain, or never landed before its blockhash expired: no money moved.
      if (!isRetryableTipRefusal(e) && e instanceof ProtocolError)
        this.#dropPending(tip.transaction);
      throw e;
    }
    const action = await this.#deliver(tip, deadline);
    return Object.freeze({
      transaction: tip.transaction as TransactionSignature,
      amount: BigInt(tip.amount),
      mint: tip.mint as MintAddress,
      decimals: tip.decimals,
      action,
    });
  }

  /**
   * Goes on with the pending tips of this device's current session (call it on start or
   * resume, and from time to time): each transfer that landed gets its action delivered;
   * one that never landed and can no longer land is dropped (no money moved). Resolves to
   * what happened to each; tips still undelivered stay pending.
   */
  async retryPending(
    options: { readonly timeoutMs?: number } = {},
  ): Promise<{ readonly tip: PendingTip; readonly result: SendResult | ProtocolError }[]> {
    // Also for an expired session: what it signed in time can still be delivered.
    const session = await this.options.manager.resume();
    if (session === undefined) return [];
    const out: { tip: PendingTip; result: SendResult | ProtocolError }[] = [];
    for (const tip of this.pending()) {
      if (tip.grantId !== session.grantId) continue;
      const deadline = Date.now() + (options.timeoutMs ?? 0);
      try {
        await this.#land(tip, deadline);
        out.push({ tip, result: await this.#deliver(tip, deadline) });
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        if (!isRetryableTipRefusal(e)) this.#dropPending(tip.transaction);
        out.push({ tip, result: e });
      }
    }
    return out;
  }

  /**
   * Makes sure the signed transfer is on chain: sends the same wire again while the chain
   * cannot be reached (it takes one signature once), then waits for its confirmation.
   * Rejects when the chain refused it or its blockhash expired before it landed.
   */
  async #land(tip: PendingTip, deadline: number, fresh = false): Promise<void> {
    const { chain } = this.options;
    const signature = tip.transaction as TransactionSignature;
    const wire = fromBase64(tip.wire);
    let delay = this.options.retry?.delayMs ?? 250;
    let sent = false;
    for (;;) {
      try {
        // A fresh tip was never sent; one sent before is looked up first.
        const landed = fresh && !sent ? null : await chain.getTransaction(signature);
        sent = true;
        if (landed === null) await chain.sendTransaction(wire);
        await chain.confirmTransaction(signature, {
          programs: programsOfWire(wire),
          lastValidBlockHeight: BigInt(tip.lastValidBlockHeight),
        });
        return;
      } catch (e) {
        if (e instanceof ProtocolError) {
          // A resend of what already landed is refused (AlreadyProcessed, or its blockhash
          // is gone): what the chain recorded decides.
          const landed = await chain.getTransaction(signature).catch(() => null);
          if (landed === null) throw e;
          if (landed.err === null) return;
          throw e;
        }
        // The chain is unreachable: the same wire again, later.
        if (Date.now() + delay > deadline) throw e;
        await sleep(delay);
        delay = Math.min(delay * 2, this.options.retry?.maxDelayMs ?? 4_000);
      }
    }
  }

  /** Signs the tip action once, then delivers that same action until a node settles it. */
  async #deliver(tip: PendingTip, deadline: number): Promise<SendResult> {
    const { social } = this.options;
    let action = tip.action;
    if (action === undefined) {
      action = await social.signAction("tip", {
        post: tip.post as ActionId,
        to: tip.to as WalletAddress,
        mint: tip.mint as MintAddress,
        amount: tip.amount,
        transaction: tip.transaction as Signature,
      });
      this.#savePending({ ...tip, action });
    }
    let delay = this.options.retry?.delayMs ?? 250;
    for (;;) {
      let result: SendResult | undefined;
      try {
        result = await social.resend(action);
        if (result.status === "accepted") {
          this.#dropPending(tip.transaction);
          return result;
        }
      } catch (e) {
        if (!isRetryableTipRefusal(e)) {
          this.#dropPending(tip.transaction);
          throw e;
        }
      }
      // Unreachable, or the node does not see the transaction yet: the same action, later.
      if (Date.now() + delay > deadline)
        return { status: "queued", id: actionIdOf(action.payload) };
      await sleep(delay);
      delay = Math.min(delay * 2, this.options.retry?.maxDelayMs ?? 4_000);
    }
  }

  /** What this device's funded session can still tip; null without a funded session. */
  async balance(): Promise<TipBalance | null> {
    const session = await this.options.manager.resume();
    const budget = session?.grant.tipBudget ?? null;
    if (session === undefined || budget === null) return null;
    const key = address(session.grant.sessionKey);
    const { address: account } = await sessionTokenAccountAddress(
      address(session.grant.wallet),
      address(budget.mint),
      this.options.deviceId,
    );
    const [info, lamports] = await Promise.all([
      this.options.chain.getAccount(account),
      this.options.chain.getBalance(key),
    ]);
    return Object.freeze({
      mint: budget.mint,
      decimals: budget.decimals,
      budget: BigInt(budget.amount),
      remaining: remainingAllowance(decodeTokenAccount(info), key),
      lamports,
      sessionTokenAccount: account,
    });
  }

  /** END for this device's funded session (no prompt): see `SessionManager.endFunds`. */
  async end(): Promise<EndedSession | null | undefined> {
    return (await this.options.manager.endFunds()) as EndedSession | null | undefined;
  }

  /** The wallet's session token accounts for a mint, with this device's marked. */
  async accounts(
    wallet: WalletAddress,
    mint: MintAddress,
  ): Promise<(SessionTokenAccount & { readonly thisDevice: boolean })[]> {
    const [found, mine] = await Promise.all([
      findSessionTokenAccounts(this.options.chain, wallet, address(mint)),
      sessionTokenAccountAddress(address(wallet), address(mint), this.options.deviceId),
    ]);
    return found.map((a) => ({ ...a, thisDevice: a.address === mine.address }));
  }

  /** RECOVER the given accounts with the wallet (one prompt): see `recoverFunds`. */
  recover(wallet: Wallet, accounts: readonly Address[], options: RecoverOptions = {}) {
    return recoverFunds(this.options.chain, wallet, accounts, {
      ...flowOptions(this.options),
      ...options,
    });
  }
}

// ---------------------------------------------------------------------------------------
// The node's chain facts

/** Read by `NodeApi.chainInfo()` from `GET /v1/chain`. */
export interface ChainInfo {
  readonly chain: string;
  /** Whether the node verifies tips (it has chain access). */
  readonly tips: boolean;
  /** The node's JSON-RPC path (`/rpc`) when it serves its embedded chain, else null. */
  readonly rpc: string | null;
  readonly demoMint: { readonly address: string; readonly decimals: number } | null;
  /**
   * The mint tips move (`SESAME_TIP_MINT` on a node over RPC, else the embedded chain's
   * demo mint); absent from nodes older than this field.
   */
  readonly tipMint?: { readonly address: string; readonly decimals: number } | null;
  /** The Memo program START and TIP must use on this chain. */
  readonly memoProgram: string | null;
}

/**
 * The chain RPC URL for a node: its own `/rpc` (embedded chain) resolved against its URL,
 * or the absolute URL a node over RPC names (`SESAME_PUBLIC_RPC_URL` / `SOLANA_RPC_URL`).
 */
export function chainRpcUrl(api: Pick<NodeApi, "baseUrl">, info: ChainInfo): string | null {
  return info.rpc === null ? null : new URL(info.rpc, `${api.baseUrl}/`).toString();
}

/**
 * The chain a node verifies tips on, as the client reaches it: the node's own `/rpc` (its
 * embedded chain) or `rpcUrl` (any Solana RPC of the same cluster), and the Memo program
 * to use there. Null when the node verifies no tips or no RPC is known.
 */
export function nodeChain(
  api: Pick<NodeApi, "baseUrl">,
  info: ChainInfo,
  options: RpcChainOptions & { readonly rpcUrl?: string } = {},
): { readonly chain: Chain; readonly memoProgram?: Address } | null {
  const url = options.rpcUrl ?? chainRpcUrl(api, info);
  if (!info.tips || url === null) return null;
  const { rpcUrl: _, ...rpcOptions } = options;
  return Object.freeze({
    chain: rpcChain(url, rpcOptions),
    ...(info.memoProgram === null ? {} : { memoProgram: address(info.memoProgram) }),
  });
}
