import { assertWalletAddress, type WalletAddress } from "@sesame/protocol";
import {
  SolanaSignMessage,
  type SolanaSignMessageFeature,
  SolanaSignTransaction,
  type SolanaSignTransactionFeature,
} from "@solana/wallet-standard-features";
import type { Wallet as StandardWallet, WalletAccount } from "@wallet-standard/core";

/**
 * The only two things Sesame ever asks of a wallet. Each call is one prompt. A session
 * costs one `signMessage` (or one `signTransactions` when it carries funds).
 */
export interface Wallet {
  readonly address: WalletAddress;
  signMessage(message: Uint8Array): Promise<Uint8Array>;
  /** Signs wire-format transactions; returns them signed, in order. */
  signTransactions(transactions: readonly Uint8Array[]): Promise<Uint8Array[]>;
}

/** The Solana chain id Wallet Standard wallets expect for a Sesame chain name. */
function standardChain(chain: string): `${string}:${string}` {
  return chain.startsWith("solana:") ? (chain as `solana:${string}`) : `solana:${chain}`;
}

/**
 * Adapts any Wallet Standard wallet that supports `solana:signMessage` and
 * `solana:signTransaction` (Phantom, Solflare, Backpack, our development wallet, ...).
 */
export function walletStandardAdapter(
  wallet: StandardWallet,
  account: WalletAccount = wallet.accounts[0] as WalletAccount,
  chain = "solana:localnet",
): Wallet {
  if (account === undefined) throw new Error(`${wallet.name} has no connected account`);
  const features = wallet.features as Partial<
    SolanaSignMessageFeature & SolanaSignTransactionFeature
  >;
  const signMessage = features[SolanaSignMessage];
  const signTransaction = features[SolanaSignTransaction];
  if (signMessage === undefined)
    throw new Error(`${wallet.name} cannot sign messages (solana:signMessage)`);
  assertWalletAddress(account.address, "account.address");
  const address = account.address;
  return Object.freeze({
    address,
    async signMessage(message: Uint8Array) {
      const [out] = await signMessage.signMessage({ account, message });
      if (out === undefined) throw new Error("the wallet returned no signature");
      return out.signature;
    },
    async signTransactions(transactions: readonly Uint8Array[]) {
      if (signTransaction === undefined) throw new Error(`${wallet.name} cannot sign transactions`);
      const outs = await signTransaction.signTransaction(
        ...transactions.map((transaction) => ({
          account,
          transaction,
          chain: standardChain(chain),
        })),
      );
      return outs.map((o) => o.signedTransaction);
    },
  });
}
