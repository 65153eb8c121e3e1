/**
 * The embedded chain: LiteSVM with the real System, SPL-Token, Associated-Token and Memo
 * programs, in this process. It keeps what LiteSVM does not — the wire bytes and balances
 * of every transaction it accepted — so it can answer `getTransaction` like a validator's
 * RPC. Blockhashes roll with every accepted transaction and stay valid for 150 slots, as on
 * a cluster; the clock can be warped. `handleRpc` (rpc.ts) serves a JSON-RPC subset.
 */
import { ErrorCode, ProtocolError } from "@sesame/protocol";
import {
  type Address,
  appendTransactionMessageInstructions,
  type Blockhash,
  createKeyPairSignerFromPrivateKeyBytes,
  createTransactionMessage,
  generateKeyPairSigner,
  getAddressDecoder,
  getBase58Decoder,
  type Instruction,
  type KeyPairSigner,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/kit";
import { getCreateAccountInstruction, getTransferSolInstruction } from "@solana-program/system";
import {
  getCreateAssociatedTokenIdempotentInstruction,
  getInitializeMint2Instruction,
  getMintToCheckedInstruction,
} from "@solana-program/token";
import { LiteSVM, SimulatedTransactionInfo } from "litesvm";
import { mainTokenAccountAddress } from "../accounts.js";
import type {
  Chain,
  ChainAccount,
  ChainTransaction,
  ConfirmOptions,
  Lifetime,
  SendOptions,
  TokenBalance,
  TransactionSignature,
} from "../chain.js";
import {
  DEFAULT_MEMO_PROGRAM,
  MINT_SIZE,
  SYSTEM_PROGRAM,
  TOKEN_ACCOUNT_SIZE,
  TOKEN_PROGRAM,
  TRANSACTION_SIZE_LIMIT,
} from "../constants.js";
import { decodeTransactionError, type TransactionErrorJson } from "../errors.js";
import {
  decodeWire,
  encodeWire,
  fromBase64,
  instructionPrograms,
  type LegacyOrV0Message,
  toBase64,
} from "../wire.js";
import { feeOf, wireOfMessage } from "./fees.js";
import {
  Journal,
  type JournalAccount,
  type JournalEntry,
  type JournalTokenBalance,
  readJournal,
  writeJournal,
} from "./journal.js";
import { transactionErrorJson } from "./litesvm-errors.js";
import { handleRpc } from "./rpc.js";

export interface EmbeddedChainOptions {
  /** Wall clock, ms; the chain's unix time follows it (plus warps). Default Date.now. */
  readonly now?: () => number;
  /** Decimals of the demo mint created on start. Default 6. */
  readonly demoMintDecimals?: number;
  /** How many slots a blockhash stays valid. Default 150, as on a cluster. */
  readonly blockhashValiditySlots?: number;
  /** How many accepted transactions are kept for getTransaction. Default 100,000. */
  readonly historyLimit?: number;
  /**
   * A directory that makes the chain durable: every accepted transaction is journaled
   * there (fdatasync before it is reported as sent or confirmed), and a chain created on a
   * directory that holds a journal is that chain again — same genesis, faucet and demo
   * mint, accounts, balances and transaction history. Without it the chain lives in memory.
   */
  readonly dataDir?: string;
}

/** A transaction the embedded chain accepted, with what a validator's RPC reports. */
export interface StoredTransaction {
  readonly signature: TransactionSignature;
  readonly wire: Uint8Array;
  readonly message: LegacyOrV0Message;
  readonly slot: bigint;
  readonly blockTime: number;
  readonly accountKeys: readonly Address[];
  readonly loadedAddresses: {
    readonly writable: readonly Address[];
    readonly readonly: readonly Address[];
  };
  readonly fee: bigint;
  readonly preBalances: readonly bigint[];
  readonly postBalances: readonly bigint[];
  readonly preTokenBalances: readonly TokenBalance[];
  readonly postTokenBalances: readonly TokenBalance[];
  readonly logs: readonly string[];
  readonly computeUnits: bigint;
  /** null when it succeeded; set only for a failed transaction landed with skipPreflight. */
  readonly err: TransactionErrorJson | null;
}

/** The outcome of executing (or simulating) wire bytes. */
export type Execution =
  | { readonly ok: true; readonly record: StoredTransaction }
  | {
      readonly ok: false;
      readonly err: TransactionErrorJson;
      readonly logs: readonly string[];
      readonly computeUnits: bigint;
      readonly programs: readonly (Address | undefined)[];
    };

const FAUCET_LAMPORTS = 1_000_000_000_000_000n; // a million SOL: below 2^53, JSON-safe
const ADDRESS_LOOKUP_TABLE_META_SIZE = 56;
const addressDecoder = getAddressDecoder();

function u64le(data: Uint8Array, offset: number): bigint {
  return new DataView(data.buffer, data.byteOffset + offset, 8).getBigUint64(0, true);
}

export class EmbeddedChain implements Chain {
  readonly name = "embedded";
  /** The Memo program this chain ships and our transactions call. */
  readonly memoProgram: Address = DEFAULT_MEMO_PROGRAM;
  readonly genesisHash: string;
  readonly svm: LiteSVM;
  readonly faucet: KeyPairSigner;
  #demoMint: { readonly address: Address; readonly decimals: number } | undefined;
  readonly #now: () => number;
  readonly #validity: bigint;
  readonly #historyLimit: number;
  #warpMs = 0;
  readonly #blockhashes = new Map<string, bigint>();
  readonly #history = new Map<string, StoredTransaction>();
  readonly #mintDecimals = new Map<string, number>();
  readonly #programLamports = new Map<string, bigint>();
  #journal: Journal | undefined;
  /** Accepted transactions whose journal line is not on disk yet: not reported yet. */
  readonly #pending = new Map<string, Promise<void>>();

  private constructor(
    svm: LiteSVM,
    faucet: KeyPairSigner,
    genesisHash: string,
    options: EmbeddedChainOptions,
  ) {
    this.svm = svm;
    this.faucet = faucet;
    this.#now = options.now ?? Date.now;
    this.#validity = BigInt(options.blockhashValiditySlots ?? 150);
    this.#historyLimit = options.historyLimit ?? 100_000;
    this.genesisHash = genesisHash;
    this.#setClock(svm.getClock().slot);
    this.#blockhashes.set(svm.latestBlockhash(), this.slot);
  }

  /**
   * Starts a chain: programs loaded, a funded faucet, and a demo mint (6 decimals). With
   * `dataDir`, reopens the chain journaled there, or starts one there and journals it.
   */
  static async create(options: EmbeddedChainOptions = {}): Promise<EmbeddedChain> {
    const entries = options.dataDir === undefined ? [] : readJournal(options.dataDir);
    const chain =
      entries.length > 0 ? await EmbeddedChain.#replay(entries, options) : await genesis();
    if (options.dataDir !== undefined) {
      // More transactions journaled than history kept: rewrite the journal as the chain's
      // state now plus the history it keeps, so it stops growing across restarts.
      const txs = entries.reduce((n, e) => n + (e.t === "tx" ? 1 : 0), 0);
      if (txs > chain.#historyLimit) writeJournal(options.dataDir, chain.#compacted());
      chain.#journal = await Journal.open(options.dataDir);
      if (entries.length === 0) await chain.#journal.append(chain.#genesisEntry());
    }
    if (chain.#demoMint === undefined) {
      const decimals = options.demoMintDecimals ?? 6;
      const address = await chain.createMint(decimals);
      chain.#demoMint = Object.freeze({ address, decimals });
      await chain.#journal?.append({ t: "demoMint", address, decimals });
    }
    return chain;

    async function genesis(): Promise<EmbeddedChain> {
      // Our own blockhash window replaces LiteSVM's single-blockhash check.
      const svm = new LiteSVM().withBlockhashCheck(false);
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const faucet = await createKeyPairSignerFromPrivateKeyBytes(seed);
      svm.setAccount({
        address: faucet.address,
        lamports: lamports(FAUCET_LAMPORTS),
        programAddress: SYSTEM_PROGRAM,
        data: new Uint8Array(),
        executable: false,
        space: 0n,
      });
      const hash = getBase58Decoder().decode(crypto.getRandomValues(new Uint8Array(32)));
      const chain = new EmbeddedChain(svm, faucet, hash, options);
      chain.#faucetSeed = seed;
      return chain;
    }
  }

  #faucetSeed: Uint8Array | undefined;
  /** Every address a journaled transaction wrote (what a compacted journal keeps). */
  readonly #touched = new Set<string>();

  /** The journal rewritten: genesis, demo mint, the kept history, then the state now. */
  #compacted(): JournalEntry[] {
    const out: JournalEntry[] = [this.#genesisEntry()];
    if (this.#demoMint !== undefined)
      out.push({
        t: "demoMint",
        address: this.#demoMint.address,
        decimals: this.#demoMint.decimals,
      });
    for (const record of this.#history.values()) out.push(this.#txEntry(record, [], ""));
    out.push({
      t: "state",
      ms: this.#warpMs,
      slot: this.slot.toString(),
      hashes: [...this.#blockhashes].map(([h, issued]) => [h, issued.toString()] as const),
      accounts: [...this.#touched].map((a) => this.#journalAccount(a as Address)),
    });
    return out;
  }

  #genesisEntry(): JournalEntry {
    if (this.#faucetSeed === undefined) throw new Error("no faucet seed");
    return {
      t: "genesis",
      v: 1,
      genesisHash: this.genesisHash,
      faucetSeed: toBase64(this.#faucetSeed),
      faucet: this.#journalAccount(this.faucet.address),
    };
  }

  /** Rebuilds a chain from its journal: accounts as last written, history, clock, hashes. */
  static async #replay(
    entries: readonly JournalEntry[],
    options: EmbeddedChainOptions,
  ): Promise<EmbeddedChain> {
    const [first] = entries;
    if (first?.t !== "genesis" || first.v !== 1)
      throw new Error("the chain journal does not start with a genesis entry");
    const svm = new LiteSVM().withBlockhashCheck(false);
    const setAccount = (a: JournalAccount) =>
      svm.setAccount({
        address: a.a as Address,
        lamports: lamports(BigInt(a.l)),
        programAddress: a.o as Address,
        data: fromBase64(a.d),
        executable: a.x,
        space: BigInt(fromBase64(a.d).length),
      });
    setAccount(first.faucet);
    const seed = fromBase64(first.faucetSeed);
    const faucet = await createKeyPairSignerFromPrivateKeyBytes(seed);
    const chain = new EmbeddedChain(svm, faucet, first.genesisHash, options);
    chain.#faucetSeed = seed;
    const hashes: [string, bigint][] = [];
    let slot = svm.getClock().slot;
    for (const entry of entries.slice(1)) {
      if (entry.t === "demoMint") {
        chain.#demoMint = Object.freeze({
          address: entry.address as Address,
          decimals: entry.decimals,
        });
        chain.#mintDecimals.set(entry.address, entry.decimals);
      } else if (entry.t === "warp") {
        chain.#warpMs = entry.ms;
        slot = BigInt(entry.slot);
        hashes.push([entry.bh, slot]);
      } else if (entry.t === "state") {
        chain.#warpMs = entry.ms;
        slot = BigInt(entry.slot);
        for (const [h, issued] of entry.hashes) hashes.push([h, BigInt(issued)]);
        for (const a of entry.accounts) {
          setAccount(a);
          chain.#touched.add(a.a);
        }
      } else if (entry.t === "tx") {
        for (const a of entry.accounts) {
          setAccount(a);
          chain.#touched.add(a.a);
        }
        const record = recordOfEntry(entry);
        chain.#history.set(record.signature, record);
        if (chain.#history.size > chain.#historyLimit) {
          const oldest = chain.#history.keys().next().value;
          if (oldest !== undefined) chain.#history.delete(oldest);
        }
        slot = record.slot + 1n;
        if (entry.bh !== "") hashes.push([entry.bh, slot]);
      }
    }
    // Blockhashes still inside their window stay valid across the restart, as on a cluster.
    chain.#setClock(slot);
    chain.#blockhashes.clear();
    for (const [hash, issued] of hashes) {
      if (issued + chain.#validity >= slot) chain.#blockhashes.set(hash, issued);
    }
    chain.#rollBlockhash();
    return chain;
  }

  /** Flushes the journal and closes it (a durable chain); the chain is not usable after. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending.values()]);
    await this.#journal?.close();
    this.#journal = undefined;
  }

  /** Whether accepted transactions are journaled to disk. */
  get durable(): boolean {
    return this.#journal !== undefined;
  }

  /** Resolves once an accepted transaction is on disk (at once for an in-memory chain). */
  async whenDurable(signature: string): Promise<void> {
    await this.#pending.get(signature);
  }

  /** The demo token every faucet call hands out. */
  get demoMint(): { readonly address: Address; readonly decimals: number } {
    if (this.#demoMint === undefined) throw new Error("the embedded chain is not started");
    return this.#demoMint;
  }

  get slot(): bigint {
    return this.svm.getClock().slot;
  }

  /** The chain's unix time, seconds. */
  get unixTimestamp(): number {
    return Math.floor((this.#now() + this.#warpMs) / 1000);
  }

  #setClock(slot: bigint): void {
    const clock = this.svm.getClock();
    clock.slot = slot;
    clock.unixTimestamp = BigInt(this.unixTimestamp);
    this.svm.setClock(clock);
  }

  /** Moves time forward (tests): the clock sysvar, and slots, which expire blockhashes. */
  warp(by: { readonly ms?: number; readonly slots?: number }): void {
    this.#warpMs += by.ms ?? 0;
    this.#setClock(this.slot + BigInt(by.slots ?? 0));
    if ((by.slots ?? 0) > 0) this.#rollBlockhash();
    void this.#journal
      ?.append({
        t: "warp",
        ms: this.#warpMs,
        slot: this.slot.toString(),
        bh: this.svm.latestBlockhash(),
      })
      .catch(() => undefined);
  }

  /** A fresh blockhash for the current slot, as a new block would bring. */
  #rollBlockhash(): void {
    this.svm.expireBlockhash();
    this.#blockhashes.set(this.svm.latestBlockhash(), this.slot);
    if (this.#blockhashes.size > Number(this.#validity) * 2) {
      for (const [hash, issued] of this.#blockhashes) {
        if (issued + this.#validity < this.slot) this.#blockhashes.delete(hash);
      }
    }
  }

  // ---- Chain -----------------------------------------------------------------------------

  async latestBlockhash(): Promise<Lifetime> {
    return this.currentLifetime();
  }

  currentLifetime(): Lifetime {
    const blockhash = this.svm.latestBlockhash() as Blockhash;
    const issued = this.#blockhashes.get(blockhash) ?? this.slot;
    return Object.freeze({ blockhash, lastValidBlockHeight: issued + this.#validity });
  }

  isBlockhashValid(blockhash: string): boolean {
    const issued = this.#blockhashes.get(blockhash);
    return issued !== undefined && issued + this.#validity >= this.slot;
  }

  async sendTransaction(
    wire: Uint8Array,
    options: SendOptions = {},
  ): Promise<TransactionSignature> {
    const result = this.execute(wire, { landFailed: options.skipPreflight ?? false });
    if (!result.ok) throw decodeTransactionError(result.err, result.programs);
    await this.whenDurable(result.record.signature);
    return result.record.signature;
  }

  async confirmTransaction(
    signature: TransactionSignature,
    options?: ConfirmOptions,
  ): Promise<void> {
    // Execution is synchronous: what was accepted is final once journaled, the rest refused.
    await this.whenDurable(signature);
    const record = this.#history.get(signature);
    if (record?.err) {
      throw decodeTransactionError(
        record.err,
        options?.programs ?? instructionPrograms(record.message),
      );
    }
    if (record === undefined) {
      throw new ProtocolError(ErrorCode.CHAIN_ERROR, {
        instruction: -1,
        program: "runtime",
        name: "TransactionNotFound",
        message: `transaction ${signature} is not on the embedded chain`,
      });
    }
  }

  async getTransaction(signature: TransactionSignature): Promise<ChainTransaction | null> {
    const r = this.storedTransaction(signature);
    if (r === undefined) return null;
    return Object.freeze({
      signature: r.signature,
      slot: r.slot,
      blockTime: r.blockTime,
      wire: r.wire,
      err: r.err,
      logs: r.logs,
      fee: r.fee,
      loadedAddresses: r.loadedAddresses,
      preTokenBalances: r.preTokenBalances,
      postTokenBalances: r.postTokenBalances,
    });
  }

  /** The stored record of an accepted transaction (wire bytes, balances, logs). */
  storedTransaction(signature: string): StoredTransaction | undefined {
    // Not reported before it is on disk: a restart could not answer for it otherwise.
    if (this.#pending.has(signature)) return undefined;
    return this.#history.get(signature);
  }

  async getAccount(address: Address): Promise<ChainAccount | null> {
    return this.account(address);
  }

  account(address: Address): ChainAccount | null {
    const a = this.svm.getAccount(address);
    if (!a.exists) return null;
    return Object.freeze({
      address,
      lamports: a.lamports,
      owner: a.programAddress,
      data: Uint8Array.from(a.data),
      executable: a.executable,
    });
  }

  async getBalance(address: Address): Promise<bigint> {
    return this.svm.getBalance(address) ?? 0n;
  }

  async getTokenAccountsByOwner(owner: Address, mint: Address): Promise<readonly ChainAccount[]> {
    return this.tokenAccountsByOwner(owner, { mint });
  }

  tokenAccountsByOwner(owner: Address, filter: { readonly mint?: Address }): ChainAccount[] {
    const found: ChainAccount[] = [];
    for (const a of this.svm.getProgramAccounts(TOKEN_PROGRAM)) {
      if (a.data.length !== TOKEN_ACCOUNT_SIZE) continue;
      if (addressDecoder.decode(a.data.subarray(32, 64)) !== owner) continue;
      if (
        filter.mint !== undefined &&
        addressDecoder.decode(a.data.subarray(0, 32)) !== filter.mint
      )
        continue;
      found.push(
        Object.freeze({
          address: a.address,
          lamports: a.lamports,
          owner: a.programAddress,
          data: Uint8Array.from(a.data),
          executable: a.executable,
        }),
      );
    }
    return found;
  }

  async getMinimumBalanceForRentExemption(space: number): Promise<bigint> {
    return this.svm.minimumBalanceForRentExemption(BigInt(space));
  }

  async getFeeForMessage(messageBytes: Uint8Array): Promise<bigint> {
    const message = decodeWire(wireOfMessage(messageBytes)).message;
    return feeOf(message);
  }

  // ---- execution -------------------------------------------------------------------------

  /**
   * Executes signed wire bytes: the size limit, our blockhash window, then LiteSVM (which
   * checks signatures, fees and duplicates and runs the programs). Accepted transactions
   * are kept with their balances; refused ones change nothing.
   */
  execute(
    wire: Uint8Array,
    options: {
      readonly simulate?: boolean;
      readonly checkBlockhash?: boolean;
      /** Land a failing transaction as failed (fee charged), as a cluster does without preflight. */
      readonly landFailed?: boolean;
    } = {},
  ): Execution {
    const decoded = decodeWire(wire);
    const { message } = decoded;
    const programs = instructionPrograms(message);
    const refuse = (err: TransactionErrorJson): Execution => ({
      ok: false,
      err,
      logs: [],
      computeUnits: 0n,
      programs,
    });
    if (wire.length > TRANSACTION_SIZE_LIMIT) return refuse("SanitizeFailure");
    // A journal that failed to write cannot make anything durable: accept nothing more.
    if (!options.simulate && this.#journal?.failed === true) return refuse("JournalUnavailable");
    if (options.checkBlockhash ?? true) {
      const issued = this.#blockhashes.get(message.lifetimeToken);
      if (issued === undefined || issued + this.#validity < this.slot)
        return refuse("BlockhashNotFound");
    }
    if (!options.simulate && this.#history.has(decoded.signature))
      return refuse("AlreadyProcessed");
    const loaded = this.#loadedAddresses(message);
    if (loaded === null) return refuse("AddressLookupTableNotFound");
    const accountKeys = [...message.staticAccounts, ...loaded.writable, ...loaded.readonly];
    const programIndices = new Set(message.instructions.map((ix) => ix.programAddressIndex));
    const preBalances = accountKeys.map((k, i) => this.#lamports(k, programIndices.has(i)));
    const preTokenBalances = this.#tokenBalances(accountKeys, programIndices);

    let result: ReturnType<LiteSVM["sendTransaction"]> | ReturnType<LiteSVM["simulateTransaction"]>;
    try {
      result = options.simulate
        ? this.svm.simulateTransaction(decoded.transaction)
        : this.svm.sendTransaction(decoded.transaction);
    } catch {
      // The JS wrapper throws on a missing signature before the runtime sees it.
      return refuse("SignatureFailure");
    }
    if ("err" in result) {
      const meta = result.meta();
      const failure = {
        ok: false as const,
        err: transactionErrorJson(result.err()),
        logs: meta.logs(),
        computeUnits: meta.computeUnitsConsumed(),
        programs,
      };
      if (options.simulate) return failure;
      const landed = failure.err instanceof Object && options.landFailed === true;
      const payerAddress = message.staticAccounts[0] as Address;
      if (!landed) {
        // LiteSVM charges the fee of a failed transaction, as a cluster does once it lands.
        // Without skipPreflight a validator's RPC refuses it before that: undo the charge.
        const payer = this.svm.getAccount(payerAddress);
        const before = preBalances[0] ?? 0n;
        if (payer.exists && payer.lamports !== before) {
          this.svm.setAccount({ ...payer, lamports: lamports(before) });
        }
        return failure;
      }
      // Landed as failed: fee charged, nothing else changed, kept for getTransaction.
      const fee = feeOf(message);
      const record: StoredTransaction = Object.freeze({
        signature: decoded.signature,
        wire: Uint8Array.from(wire),
        message,
        slot: this.slot,
        blockTime: this.unixTimestamp,
        accountKeys: Object.freeze(accountKeys),
        loadedAddresses: loaded,
        fee,
        preBalances: Object.freeze(preBalances),
        postBalances: Object.freeze(accountKeys.map((k) => this.svm.getBalance(k) ?? 0n)),
        preTokenBalances,
        postTokenBalances: preTokenBalances,
        logs: Object.freeze(failure.logs),
        computeUnits: failure.computeUnits,
        err: failure.err,
      });
      this.#accept(record);
      return { ok: true, record };
    }
    const meta = result instanceof SimulatedTransactionInfo ? result.meta() : result;
    const simulatedPost =
      result instanceof SimulatedTransactionInfo
        ? new Map(result.postAccounts().map((a) => [a.address as string, a]))
        : undefined;
    const postBalances = accountKeys.map((k, i) =>
      simulatedPost?.has(k)
        ? (simulatedPost.get(k)?.lamports ?? 0n)
        : this.#lamports(k, programIndices.has(i)),
    );
    const record: StoredTransaction = Object.freeze({
      signature: decoded.signature,
      wire: Uint8Array.from(wire),
      message,
      slot: this.slot,
      blockTime: this.unixTimestamp,
      accountKeys: Object.freeze(accountKeys),
      loadedAddresses: loaded,
      fee: feeOf(message),
      preBalances: Object.freeze(preBalances),
      postBalances: Object.freeze(postBalances),
      preTokenBalances,
      postTokenBalances: options.simulate
        ? preTokenBalances
        : this.#tokenBalances(accountKeys, programIndices),
      logs: Object.freeze(meta.logs()),
      computeUnits: meta.computeUnitsConsumed(),
      err: null,
    });
    if (!options.simulate) this.#accept(record);
    return { ok: true, record };
  }

  #accept(record: StoredTransaction): void {
    this.#history.set(record.signature, record);
    if (this.#history.size > this.#historyLimit) {
      const oldest = this.#history.keys().next().value;
      if (oldest !== undefined) this.#history.delete(oldest);
    }
    // One slot per accepted transaction, and a fresh blockhash for the next ones.
    this.#setClock(this.slot + 1n);
    this.#rollBlockhash();
    if (this.#journal !== undefined) {
      const signature = record.signature;
      const entry = this.#txEntry(record);
      if (entry.t === "tx") for (const a of entry.accounts) this.#touched.add(a.a);
      const written = this.#journal.append(entry);
      const settled = written.finally(() => this.#pending.delete(signature));
      this.#pending.set(signature, settled);
      settled.catch(() => undefined);
    }
  }

  /** The accounts a transaction could write, as LiteSVM holds them now. */
  #writtenAccounts(record: StoredTransaction): JournalAccount[] {
    const { header, staticAccounts, instructions } = record.message;
    const invoked = new Set(instructions.map((ix) => ix.programAddressIndex));
    const writable: Address[] = [];
    staticAccounts.forEach((key, i) => {
      if (invoked.has(i)) return;
      const signer = i < header.numSignerAccounts;
      const isWritable = signer
        ? i < header.numSignerAccounts - header.numReadonlySignerAccounts
        : i < staticAccounts.length - header.numReadonlyNonSignerAccounts;
      if (isWritable) writable.push(key);
    });
    writable.push(...record.loadedAddresses.writable);
    return writable.map((key) => this.#journalAccount(key));
  }

  #journalAccount(key: Address): JournalAccount {
    const a = this.svm.getAccount(key);
    if (!a.exists) return { a: key, l: "0", o: SYSTEM_PROGRAM, d: "", x: false };
    return {
      a: key,
      l: a.lamports.toString(),
      o: a.programAddress,
      d: toBase64(a.data),
      x: a.executable,
    };
  }

  #txEntry(r: StoredTransaction, accounts?: JournalAccount[], bh?: string): JournalEntry {
    const tok = (b: TokenBalance): JournalTokenBalance => ({
      i: b.accountIndex,
      m: b.mint,
      o: b.owner,
      n: b.amount.toString(),
      d: b.decimals,
    });
    return {
      t: "tx",
      sig: r.signature,
      wire: toBase64(r.wire),
      slot: r.slot.toString(),
      time: r.blockTime,
      fee: r.fee.toString(),
      lw: r.loadedAddresses.writable,
      lr: r.loadedAddresses.readonly,
      pre: r.preBalances.map(String),
      post: r.postBalances.map(String),
      preTok: r.preTokenBalances.map(tok),
      postTok: r.postTokenBalances.map(tok),
      logs: r.logs,
      cu: r.computeUnits.toString(),
      err: r.err,
      bh: bh ?? this.svm.latestBlockhash(),
      accounts: accounts ?? this.#writtenAccounts(r),
    };
  }

  /**
   * An account's lamports. A program's never change when it is invoked, and reading one
   * copies its whole executable out of LiteSVM, so they are remembered.
   */
  #lamports(address: Address, invoked: boolean): bigint {
    if (!invoked) return this.svm.getBalance(address) ?? 0n;
    let known = this.#programLamports.get(address);
    if (known === undefined) {
      known = this.svm.getBalance(address) ?? 0n;
      this.#programLamports.set(address, known);
    }
    return known;
  }

  #loadedAddresses(message: LegacyOrV0Message): StoredTransaction["loadedAddresses"] | null {
    const lookups = message.version === 0 ? (message.addressTableLookups ?? []) : [];
    const writable: Address[] = [];
    const readonly: Address[] = [];
    for (const lookup of lookups) {
      const table = this.svm.getAccount(lookup.lookupTableAddress);
      if (!table.exists) return null;
      const at = (i: number) =>
        addressDecoder.decode(
          table.data.subarray(
            ADDRESS_LOOKUP_TABLE_META_SIZE + 32 * i,
            ADDRESS_LOOKUP_TABLE_META_SIZE + 32 * (i + 1),
          ),
        );
      writable.push(...lookup.writableIndexes.map(at));
      readonly.push(...lookup.readonlyIndexes.map(at));
    }
    return Object.freeze({ writable: Object.freeze(writable), readonly: Object.freeze(readonly) });
  }

  /** A mint's decimals (0 when it is not a mint). Cached: decimals never change. */
  decimalsOf(mint: Address): number {
    let decimals = this.#mintDecimals.get(mint);
    if (decimals === undefined) {
      const account = this.svm.getAccount(mint);
      decimals = account.exists && account.data.length === MINT_SIZE ? (account.data[44] ?? 0) : 0;
      this.#mintDecimals.set(mint, decimals);
    }
    return decimals;
  }

  #tokenBalances(keys: readonly Address[], skip: ReadonlySet<number>): readonly TokenBalance[] {
    const balances: TokenBalance[] = [];
    keys.forEach((key, accountIndex) => {
      if (skip.has(accountIndex)) return;
      const a = this.svm.getAccount(key);
      if (!a.exists || a.programAddress !== TOKEN_PROGRAM || a.data.length !== TOKEN_ACCOUNT_SIZE)
        return;
      const mint = addressDecoder.decode(a.data.subarray(0, 32));
      balances.push(
        Object.freeze({
          accountIndex,
          mint,
          owner: addressDecoder.decode(a.data.subarray(32, 64)),
          amount: u64le(a.data, 64),
          decimals: this.decimalsOf(mint),
        }),
      );
    });
    return Object.freeze(balances);
  }

  /** Answers one JSON-RPC request or batch (a JSON string or a parsed body) with JSON text. */
  handleRpc(body: unknown): Promise<string> {
    return handleRpc(this, body);
  }

  // ---- faucet and demo helpers (signed by the chain's own faucet key) ---------------------

  async #submitOwn(instructions: readonly Instruction[]): Promise<TransactionSignature> {
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(this.faucet, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(this.currentLifetime(), m),
      (m) => appendTransactionMessageInstructions(instructions, m),
    );
    const signed = await signTransactionMessageWithSigners(message);
    return this.sendTransaction(encodeWire(signed));
  }

  /** Sends SOL from the faucet (what `requestAirdrop` does). */
  async airdrop(to: Address, amount: bigint): Promise<TransactionSignature> {
    return this.#submitOwn([
      getTransferSolInstruction({ source: this.faucet, destination: to, amount }),
    ]);
  }

  /** Creates a mint whose authority is the faucet (the demo mint, or another for tests). */
  async createMint(decimals: number): Promise<Address> {
    const mint = await generateKeyPairSigner();
    await this.#submitOwn([
      getCreateAccountInstruction({
        payer: this.faucet,
        newAccount: mint,
        lamports: this.svm.minimumBalanceForRentExemption(BigInt(MINT_SIZE)),
        space: MINT_SIZE,
        programAddress: TOKEN_PROGRAM,
      }),
      getInitializeMint2Instruction({
        mint: mint.address,
        decimals,
        mintAuthority: this.faucet.address,
      }),
    ]);
    this.#mintDecimals.set(mint.address, decimals);
    return mint.address;
  }

  /** Mints tokens of a faucet-owned mint to an owner's main (associated) token account. */
  async mintTo(
    owner: Address,
    amount: bigint,
    mint: Address = this.demoMint.address,
  ): Promise<{ readonly signature: TransactionSignature; readonly tokenAccount: Address }> {
    const tokenAccount = await mainTokenAccountAddress(owner, mint);
    const signature = await this.#submitOwn([
      getCreateAssociatedTokenIdempotentInstruction({
        payer: this.faucet,
        ata: tokenAccount,
        owner,
        mint,
      }),
      getMintToCheckedInstruction({
        mint,
        token: tokenAccount,
        mintAuthority: this.faucet,
        amount,
        decimals: this.decimalsOf(mint),
      }),
    ]);
    return Object.freeze({ signature, tokenAccount });
  }

  /** The faucet for demo wallets: SOL, and demo tokens into the wallet's main token account. */
  async fund(
    wallet: Address,
    amounts: { readonly lamports?: bigint; readonly tokens?: bigint } = {},
  ): Promise<{
    readonly signatures: readonly TransactionSignature[];
    readonly tokenAccount: Address;
  }> {
    const signatures: TransactionSignature[] = [];
    const sol = amounts.lamports ?? 1_000_000_000n;
    if (sol > 0n) signatures.push(await this.airdrop(wallet, sol));
    const tokens = amounts.tokens ?? 100n * 10n ** BigInt(this.demoMint.decimals);
    const minted = await this.mintTo(wallet, tokens);
    signatures.push(minted.signature);
    return Object.freeze({
      signatures: Object.freeze(signatures),
      tokenAccount: minted.tokenAccount,
    });
  }
}

/** A journaled transaction back as the record `getTransaction` answers from. */
function recordOfEntry(e: Extract<JournalEntry, { t: "tx" }>): StoredTransaction {
  const wire = fromBase64(e.wire);
  const { message } = decodeWire(wire);
  const loadedAddresses = Object.freeze({
    writable: Object.freeze(e.lw as Address[]),
    readonly: Object.freeze(e.lr as Address[]),
  });
  const tok = (b: JournalTokenBalance): TokenBalance =>
    Object.freeze({
      accountIndex: b.i,
      mint: b.m as Address,
      owner: b.o as Address | null,
      amount: BigInt(b.n),
      decimals: b.d,
    });
  return Object.freeze({
    signature: e.sig as TransactionSignature,
    wire,
    message,
    slot: BigInt(e.slot),
    blockTime: e.time,
    accountKeys: Object.freeze([
      ...message.staticAccounts,
      ...loadedAddresses.writable,
      ...loadedAddresses.readonly,
    ]),
    loadedAddresses,
    fee: BigInt(e.fee),
    preBalances: Object.freeze(e.pre.map(BigInt)),
    postBalances: Object.freeze(e.post.map(BigInt)),
    preTokenBalances: Object.freeze(e.preTok.map(tok)),
    postTokenBalances: Object.freeze(e.postTok.map(tok)),
    logs: Object.freeze([...e.logs]),
    computeUnits: BigInt(e.cu),
    err: e.err as TransactionErrorJson | null,
  });
}
