/**
 * Chain access behind one small interface: the embedded LiteSVM chain implements it
 * in-process, `rpcChain` implements it over any Solana JSON-RPC endpoint (including the
 * embedded chain's own `/rpc`). Builders, submission and tip verification use only this.
 */
import type { Address, Blockhash, Signature as TransactionSignature } from "@solana/kit";
import type { TransactionErrorJson } from "./errors.js";

export type { TransactionSignature };

/** A recent blockhash and the last block height at which it is valid. */
export interface Lifetime {
  readonly blockhash: Blockhash;
  readonly lastValidBlockHeight: bigint;
}

export interface ChainAccount {
  readonly address: Address;
  readonly lamports: bigint;
  /** The program that owns the account. */
  readonly owner: Address;
  readonly data: Uint8Array;
  readonly executable: boolean;
}

/** A token balance in a transaction's meta, as Solana's RPC reports it. */
export interface TokenBalance {
  readonly accountIndex: number;
  readonly mint: Address;
  /** The token account's owner (a wallet), when the RPC reports it. */
  readonly owner: Address | null;
  readonly amount: bigint;
  readonly decimals: number;
}

/** A transaction as the chain recorded it: its exact wire bytes and its outcome. */
export interface ChainTransaction {
  readonly signature: TransactionSignature;
  readonly slot: bigint;
  /** Seconds since 1970, when known. */
  readonly blockTime: number | null;
  /** The signed wire transaction. */
  readonly wire: Uint8Array;
  /** null when it succeeded. */
  readonly err: TransactionErrorJson | null;
  readonly logs: readonly string[];
  readonly fee: bigint;
  /** Addresses a v0 transaction loaded from lookup tables (writable first, then read-only). */
  readonly loadedAddresses: {
    readonly writable: readonly Address[];
    readonly readonly: readonly Address[];
  };
  readonly preTokenBalances: readonly TokenBalance[] | null;
  readonly postTokenBalances: readonly TokenBalance[] | null;
}

export interface SendOptions {
  readonly skipPreflight?: boolean;
}

export interface ConfirmOptions {
  /** Give up once the chain's block height passes this (the blockhash expired). */
  readonly lastValidBlockHeight?: bigint;
  /** Program address of each instruction, to name a failure. */
  readonly programs?: readonly (string | undefined)[];
  /** Give up after this long, ms. Default 60 s. */
  readonly timeoutMs?: number;
}

export interface Chain {
  /** `embedded` or the RPC endpoint. */
  readonly name: string;
  latestBlockhash(): Promise<Lifetime>;
  /**
   * Sends signed wire bytes; a refusal rejects with a ProtocolError 7004 CHAIN_ERROR. With
   * `skipPreflight`, a transaction that fails still lands (as failed, fee charged), as on a
   * cluster: its failure shows in confirmTransaction and getTransaction.
   */
  sendTransaction(wire: Uint8Array, options?: SendOptions): Promise<TransactionSignature>;
  /** Resolves once confirmed; a failure rejects with a ProtocolError 7004 CHAIN_ERROR. */
  confirmTransaction(signature: TransactionSignature, options?: ConfirmOptions): Promise<void>;
  getTransaction(signature: TransactionSignature): Promise<ChainTransaction | null>;
  getAccount(address: Address): Promise<ChainAccount | null>;
  getBalance(address: Address): Promise<bigint>;
  /** Token accounts of an owner for one mint (SPL Token only). */
  getTokenAccountsByOwner(owner: Address, mint: Address): Promise<readonly ChainAccount[]>;
  getMinimumBalanceForRentExemption(space: number): Promise<bigint>;
  /** The fee the chain charges for a compiled message, lamports. */
  getFeeForMessage(messageBytes: Uint8Array): Promise<bigint>;
}
