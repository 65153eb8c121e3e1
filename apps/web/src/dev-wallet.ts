import { ed25519 } from "@noble/curves/ed25519.js";
import { fromBase58, toBase58 } from "@sesame/protocol";
import { describeTransaction, describeTransactionText } from "@sesame/solana/client";
import {
  SolanaSignMessage,
  type SolanaSignMessageFeature,
  type SolanaSignMessageInput,
  SolanaSignTransaction,
  type SolanaSignTransactionFeature,
  type SolanaSignTransactionInput,
} from "@solana/wallet-standard-features";
import {
  registerWallet,
  StandardConnect,
  type StandardConnectFeature,
  StandardEvents,
  type StandardEventsFeature,
  type StandardEventsListeners,
  type Wallet,
  type WalletAccount,
} from "@wallet-standard/core";

/**
 * A development wallet that is a real Wallet Standard wallet: the app finds it the same
 * way it finds Phantom or Solflare. It asks for explicit approval of every signature in
 * a dialog and counts the signatures it made. Its key lives in localStorage: for demos
 * and tests only, never for real funds.
 */
export interface ApprovalRequest {
  readonly kind: "message" | "transaction";
  /** The message text (UTF-8) or a description of the transaction. */
  readonly text: string;
  /** A transaction's memos, in full (a Sesame START carries its grant, or the grant's id). */
  readonly memos?: readonly string[];
}

/** Every instruction of a wire transaction in words, and its memos. */
function describeWire(wire: Uint8Array): { text: string; memos: readonly string[] } {
  try {
    const d = describeTransaction(wire);
    return { text: describeTransactionText(d), memos: d.memos };
  } catch (e) {
    return {
      text: `A Solana transaction of ${wire.length} bytes that this wallet cannot decode (${(e as Error).message})`,
      memos: [],
    };
  }
}

type Approver = (request: ApprovalRequest) => Promise<boolean>;

const SEED_KEY = "sesame-dev-wallet-seed";
const COUNT_KEY = "sesame-dev-wallet-signatures";
const ICON =
  "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAzMiAzMiI+PHJlY3Qgd2lkdGg9IjMyIiBoZWlnaHQ9IjMyIiByeD0iOCIgZmlsbD0iIzNiODJmNiIvPjx0ZXh0IHg9IjE2IiB5PSIyMiIgZm9udC1zaXplPSIxOCIgdGV4dC1hbmNob3I9Im1pZGRsZSIgZmlsbD0id2hpdGUiPlM8L3RleHQ+PC9zdmc+";

function seed(): Uint8Array {
  const saved = localStorage.getItem(SEED_KEY);
  if (saved !== null) return fromBase58(saved, "seed");
  const fresh = crypto.getRandomValues(new Uint8Array(32));
  localStorage.setItem(SEED_KEY, toBase58(fresh));
  return fresh;
}

export function signatureCount(): number {
  return Number(localStorage.getItem(COUNT_KEY) ?? "0");
}

function counted(): void {
  localStorage.setItem(COUNT_KEY, String(signatureCount() + 1));
  window.dispatchEvent(new Event("sesame-dev-wallet-signed"));
}

/** Solana's wire transaction: compact-u16 signature count, signatures, then the message. */
function signWire(wire: Uint8Array, secret: Uint8Array, address: string): Uint8Array {
  const count = wire[0] as number;
  if (count >= 0x80) throw new Error("too many signatures");
  const message = wire.subarray(1 + 64 * count);
  // Static account keys start after the header (3 bytes, +1 version byte for v0).
  const versioned = ((message[0] as number) & 0x80) !== 0;
  const keysAt = versioned ? 5 : 4;
  const publicKey = fromBase58(address, "address");
  for (let i = 0; i < count; i++) {
    const key = message.subarray(keysAt + 32 * i, keysAt + 32 * (i + 1));
    if (key.every((b, j) => b === publicKey[j])) {
      const out = Uint8Array.from(wire);
      out.set(ed25519.sign(message, secret), 1 + 64 * i);
      return out;
    }
  }
  throw new Error("this wallet is not a signer of the transaction");
}

export class DevWallet implements Wallet {
  readonly version = "1.0.0" as const;
  readonly name = "Sesame Dev Wallet";
  readonly icon = ICON as `data:image/svg+xml;base64,${string}`;
  readonly chains = ["solana:localnet", "solana:devnet"] as const;
  #accounts: WalletAccount[] = [];
  #changeListeners: StandardEventsListeners["change"][] = [];
  readonly #secret = seed();
  readonly address = toBase58(ed25519.getPublicKey(this.#secret));

  constructor(private readonly approve: Approver) {}

  get accounts(): readonly WalletAccount[] {
    return this.#accounts;
  }

  get features(): StandardConnectFeature &
    StandardEventsFeature &
    SolanaSignMessageFeature &
    SolanaSignTransactionFeature {
    return {
      [StandardConnect]: { version: "1.0.0", connect: async () => this.#connect() },
      [StandardEvents]: {
        version: "1.0.0",
        on: (_event, listener) => {
          this.#changeListeners.push(listener);
          return () => {
            this.#changeListeners = this.#changeListeners.filter((l) => l !== listener);
          };
        },
      },
      [SolanaSignMessage]: {
        version: "1.1.0",
        signMessage: async (...inputs: readonly SolanaSignMessageInput[]) => {
          const outs = [];
          for (const input of inputs) {
            const text = new TextDecoder().decode(input.message);
            if (!(await this.approve({ kind: "message", text })))
              throw new Error("The request was rejected in the wallet");
            const signature = ed25519.sign(input.message, this.#secret);
            counted();
            outs.push({ signedMessage: input.message, signature });
          }
          return outs;
        },
      },
      [SolanaSignTransaction]: {
        version: "1.0.0",
        supportedTransactionVersions: ["legacy", 0],
        signTransaction: async (...inputs: readonly SolanaSignTransactionInput[]) => {
          const outs = [];
          for (const input of inputs) {
            const { text, memos } = describeWire(input.transaction);
            if (!(await this.approve({ kind: "transaction", text, memos })))
              throw new Error("The request was rejected in the wallet");
            outs.push({
              signedTransaction: signWire(input.transaction, this.#secret, this.address),
            });
            counted();
          }
          return outs;
        },
      },
    };
  }

  #connect() {
    if (this.#accounts.length === 0) {
      const account: WalletAccount = {
        address: this.address,
        publicKey: ed25519.getPublicKey(this.#secret),
        chains: this.chains,
        features: [SolanaSignMessage, SolanaSignTransaction],
      };
      this.#accounts = [account];
      for (const l of this.#changeListeners) l({ accounts: this.#accounts });
    }
    return { accounts: this.#accounts };
  }
}

/** Registers the development wallet with the page's Wallet Standard registry. */
export function registerDevWallet(approve: Approver): DevWallet {
  const wallet = new DevWallet(approve);
  registerWallet(wallet);
  return wallet;
}
