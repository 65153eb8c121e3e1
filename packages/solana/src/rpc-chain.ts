/**
 * The Chain interface over any Solana JSON-RPC endpoint, through `@solana/kit`'s
 * `createSolanaRpc`: a cluster (SOLANA_RPC_URL) or the embedded chain's `/rpc`.
 */

import { ErrorCode, ProtocolError } from "@sesame/protocol";
import {
  type Address,
  type Base64EncodedWireTransaction,
  type Commitment,
  createSolanaRpc,
  type Rpc,
  type SolanaRpcApi,
  type TransactionMessageBytesBase64,
} from "@solana/kit";
import type {
  Chain,
  ChainAccount,
  ChainTransaction,
  ConfirmOptions,
  Lifetime,
  SendOptions,
  TokenBalance,
  TransactionSignature,
} from "./chain.js";
import { TOKEN_ACCOUNT_SIZE } from "./constants.js";
import { decodeKitError, decodeTransactionError, type TransactionErrorJson } from "./errors.js";
import { fromBase64, programsOfWire, toBase64 } from "./wire.js";

export interface RpcChainOptions {
  /** Default `confirmed`. */
  readonly commitment?: Commitment;
  /** How often to poll signature statuses while confirming, ms. Default 400. */
  readonly pollMs?: number;
}

const RENT_TTL_MS = 10 * 60_000;

type KitTokenBalance = {
  readonly accountIndex: number | bigint;
  readonly mint: Address;
  readonly owner?: Address;
  readonly uiTokenAmount: { readonly amount: string; readonly decimals: number | bigint };
};

function tokenBalances(list: readonly KitTokenBalance[] | null | undefined): TokenBalance[] | null {
  if (list === null || list === undefined) return null;
  return list.map((b) =>
    Object.freeze({
      accountIndex: Number(b.accountIndex),
      mint: b.mint,
      owner: b.owner ?? null,
      amount: BigInt(b.uiTokenAmount.amount),
      decimals: Number(b.uiTokenAmount.decimals),
    }),
  );
}

function toAccount(
  address: Address,
  value: {
    readonly lamports: bigint;
    readonly owner: Address;
    readonly data: readonly [string, "base64"];
    readonly executable: boolean;
  } | null,
): ChainAccount | null {
  if (value === null) return null;
  return Object.freeze({
    address,
    lamports: BigInt(value.lamports),
    owner: value.owner,
    data: fromBase64(value.data[0]),
    executable: value.executable,
  });
}

/** A Chain backed by a JSON-RPC endpoint (a URL, or a kit Rpc you built yourself). */
export function rpcChain(
  endpoint: string | Rpc<SolanaRpcApi>,
  options: RpcChainOptions = {},
): Chain {
  const rpc = typeof endpoint === "string" ? createSolanaRpc(endpoint) : endpoint;
  const commitment = options.commitment ?? "confirmed";
  const pollMs = options.pollMs ?? 400;
  const rent = new Map<number, { readonly lamports: bigint; readonly at: number }>();

  const chain: Chain = {
    name: typeof endpoint === "string" ? endpoint : "rpc",

    async latestBlockhash(): Promise<Lifetime> {
      const { value } = await rpc.getLatestBlockhash({ commitment }).send();
      return Object.freeze({
        blockhash: value.blockhash,
        lastValidBlockHeight: BigInt(value.lastValidBlockHeight),
      });
    },

    async sendTransaction(wire: Uint8Array, send: SendOptions = {}): Promise<TransactionSignature> {
      try {
        return await rpc
          .sendTransaction(toBase64(wire) as Base64EncodedWireTransaction, {
            encoding: "base64",
            preflightCommitment: commitment,
            skipPreflight: send.skipPreflight ?? false,
          })
          .send();
      } catch (e) {
        throw decodeKitError(e, programsOfWire(wire)) ?? e;
      }
    },

    async confirmTransaction(signature: TransactionSignature, confirm: ConfirmOptions = {}) {
      const deadline = Date.now() + (confirm.timeoutMs ?? 60_000);
      const wanted =
        commitment === "processed"
          ? ["processed", "confirmed", "finalized"]
          : commitment === "confirmed"
            ? ["confirmed", "finalized"]
            : ["finalized"];
      for (;;) {
        const { value } = await rpc.getSignatureStatuses([signature]).send();
        const status = value[0];
        if (status?.err) {
          throw decodeTransactionError(status.err as TransactionErrorJson, confirm.programs ?? []);
        }
        if (status?.confirmationStatus && wanted.includes(status.confirmationStatus)) return;
        const expired =
          confirm.lastValidBlockHeight !== undefined &&
          BigInt(await rpc.getBlockHeight({ commitment }).send()) > confirm.lastValidBlockHeight;
        if (expired || Date.now() > deadline) {
          throw new ProtocolError(ErrorCode.CHAIN_ERROR, {
            instruction: -1,
            program: "runtime",
            name: expired ? "BlockhashExpired" : "ConfirmationTimeout",
            message: `transaction ${signature} was not confirmed`,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },

    async getTransaction(signature: TransactionSignature): Promise<ChainTransaction | null> {
      const tx = await rpc
        .getTransaction(signature, {
          encoding: "base64",
          maxSupportedTransactionVersion: 0,
          commitment: commitment === "processed" ? "confirmed" : commitment,
        })
        .send();
      if (tx === null) return null;
      const meta = tx.meta;
      return Object.freeze({
        signature,
        slot: BigInt(tx.slot),
        blockTime: tx.blockTime === null ? null : Number(tx.blockTime),
        wire: fromBase64(tx.transaction[0]),
        err: (meta?.err ?? null) as TransactionErrorJson | null,
        logs: meta?.logMessages ?? [],
        fee: BigInt(meta?.fee ?? 0n),
        loadedAddresses: {
          writable: meta?.loadedAddresses?.writable ?? [],
          readonly: meta?.loadedAddresses?.readonly ?? [],
        },
        preTokenBalances: tokenBalances(
          meta?.preTokenBalances as readonly KitTokenBalance[] | undefined,
        ),
        postTokenBalances: tokenBalances(
          meta?.postTokenBalances as readonly KitTokenBalance[] | undefined,
        ),
      });
    },

    async getAccount(address: Address): Promise<ChainAccount | null> {
      const { value } = await rpc
        .getAccountInfo(address, { encoding: "base64", commitment })
        .send();
      return toAccount(address, value);
    },

    async getBalance(address: Address): Promise<bigint> {
      const { value } = await rpc.getBalance(address, { commitment }).send();
      return BigInt(value);
    },

    async getTokenAccountsByOwner(owner: Address, mint: Address): Promise<readonly ChainAccount[]> {
      const { value } = await rpc
        .getTokenAccountsByOwner(owner, { mint }, { encoding: "base64", commitment })
        .send();
      const found: ChainAccount[] = [];
      for (const { pubkey, account } of value) {
        const a = toAccount(pubkey, account);
        if (a !== null && a.data.length === TOKEN_ACCOUNT_SIZE) found.push(a);
      }
      return found;
    },

    async getMinimumBalanceForRentExemption(space: number): Promise<bigint> {
      // Rent changes only with a cluster feature: ask once per size per 10 minutes.
      const known = rent.get(space);
      if (known !== undefined && known.at > Date.now() - RENT_TTL_MS) return known.lamports;
      const lamports = BigInt(await rpc.getMinimumBalanceForRentExemption(BigInt(space)).send());
      rent.set(space, { lamports, at: Date.now() });
      return lamports;
    },

    async getFeeForMessage(messageBytes: Uint8Array): Promise<bigint> {
      const { value } = await rpc
        .getFeeForMessage(toBase64(messageBytes) as TransactionMessageBytesBase64, { commitment })
        .send();
      if (value === null) {
        throw new ProtocolError(ErrorCode.CHAIN_ERROR, {
          instruction: -1,
          program: "runtime",
          name: "BlockhashNotFound",
          message: "the chain cannot price this message (its blockhash expired)",
        });
      }
      return BigInt(value);
    },
  };
  return Object.freeze(chain);
}
