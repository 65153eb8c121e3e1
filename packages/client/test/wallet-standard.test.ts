import { ed25519 } from "@noble/curves/ed25519.js";
import { fromBase58, toBase58, utf8, type WalletAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  address,
  appendTransactionMessageInstruction,
  blockhash,
  compileTransaction,
  createTransactionMessage,
  getTransactionDecoder,
  getTransactionEncoder,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type Transaction,
} from "@solana/kit";
import {
  SolanaSignMessage,
  type SolanaSignMessageFeature,
  type SolanaSignMessageInput,
  SolanaSignTransaction,
  type SolanaSignTransactionFeature,
  type SolanaSignTransactionInput,
} from "@solana/wallet-standard-features";
import type { Wallet as StandardWallet, WalletAccount } from "@wallet-standard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MemorySessionStore,
  NodeApi,
  SessionManager,
  SocialClient,
  walletStandardAdapter,
} from "../src/index.js";
import { app, CONTEXT, policy, startTestNode, type TestNode } from "./helpers.js";

const MEMO = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";

/**
 * A minimal but real Wallet Standard wallet, as a browser extension would register it:
 * one account, `solana:signMessage` and `solana:signTransaction` backed by a keypair.
 * `calls` records every request a person would have been asked to approve.
 */
function keypairStandardWallet(features: "both" | "transactions-only" = "both") {
  const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const publicKey = ed25519.getPublicKey(seed);
  const calls: string[] = [];
  const account: WalletAccount = Object.freeze({
    address: toBase58(publicKey),
    publicKey,
    chains: ["solana:localnet"] as const,
    features: [SolanaSignMessage, SolanaSignTransaction] as const,
  });
  const signMessage: SolanaSignMessageFeature = {
    [SolanaSignMessage]: {
      version: "1.1.0",
      async signMessage(...inputs: readonly SolanaSignMessageInput[]) {
        calls.push("signMessage");
        return inputs.map((input) => ({
          signedMessage: input.message,
          signature: ed25519.sign(input.message, seed),
          signatureType: "ed25519" as const,
        }));
      },
    },
  };
  const signTransaction: SolanaSignTransactionFeature = {
    [SolanaSignTransaction]: {
      version: "1.0.0",
      supportedTransactionVersions: ["legacy", 0],
      async signTransaction(...inputs: readonly SolanaSignTransactionInput[]) {
        calls.push("signTransaction");
        return inputs.map((input) => {
          const tx = getTransactionDecoder().decode(input.transaction);
          const signature = ed25519.sign(Uint8Array.from(tx.messageBytes), seed);
          const signed = {
            ...tx,
            signatures: { ...tx.signatures, [account.address]: signature },
          } as unknown as Transaction;
          return { signedTransaction: Uint8Array.from(getTransactionEncoder().encode(signed)) };
        });
      },
    },
  };
  const wallet: StandardWallet = {
    version: "1.0.0",
    name: "Test Keypair Wallet",
    icon: "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=",
    chains: ["solana:localnet"],
    accounts: [account],
    features: features === "both" ? { ...signMessage, ...signTransaction } : signTransaction,
  };
  return { wallet, account, calls, publicKey };
}

describe("the Wallet Standard adapter", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(async () => node.close());

  it("starts a session with exactly one solana:signMessage request, then posts with none", async () => {
    const { wallet, account, calls } = keypairStandardWallet();
    const adapted = walletStandardAdapter(wallet);
    expect(adapted.address).toBe(account.address);
    const store = new MemorySessionStore();
    const api = new NodeApi(node.url);
    const manager = new SessionManager({
      store,
      api,
      app: app("Chromium on Linux"),
      walletAddress: adapted.address,
      wallet: adapted,
    });
    const social = new SocialClient({
      manager,
      store,
      api,
      backend: nodeEd25519(),
      context: CONTEXT,
    });
    const session = await manager.start(policy(["post"]));
    expect(calls).toEqual(["signMessage"]);
    for (let i = 0; i < 5; i++)
      expect((await social.post(`via the standard wallet ${i}`)).status).toBe("accepted");
    expect(calls).toEqual(["signMessage"]);
    // The node verified the wallet's signature over the exact grant text.
    const [served] = await manager.list();
    expect(served?.grant).toBe(session.grantId);
    expect(
      ed25519.verify(
        fromBase58(served?.signature ?? "", "signature"),
        utf8(served?.text ?? ""),
        account.publicKey as Uint8Array,
      ),
    ).toBe(true);
  });

  it("signs wire-format transactions through solana:signTransaction", async () => {
    const { wallet, account, calls, publicKey } = keypairStandardWallet();
    const adapted = walletStandardAdapter(wallet);
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayer(address(account.address), m),
      (m) =>
        setTransactionMessageLifetimeUsingBlockhash(
          { blockhash: blockhash("11111111111111111111111111111111"), lastValidBlockHeight: 0n },
          m,
        ),
      (m) =>
        appendTransactionMessageInstruction(
          { programAddress: address(MEMO), data: utf8("sesame") },
          m,
        ),
    );
    const wire = Uint8Array.from(getTransactionEncoder().encode(compileTransaction(message)));
    const [signed] = await adapted.signTransactions([wire]);
    expect(calls).toEqual(["signTransaction"]);
    const tx = getTransactionDecoder().decode(signed as Uint8Array);
    const signature = tx.signatures[address(account.address)];
    expect(signature).toBeTruthy();
    expect(
      ed25519.verify(signature as Uint8Array, Uint8Array.from(tx.messageBytes), publicKey),
    ).toBe(true);
  });

  it("refuses a wallet without solana:signMessage, and one with no account", () => {
    const { wallet } = keypairStandardWallet("transactions-only");
    expect(() => walletStandardAdapter(wallet)).toThrow(/solana:signMessage/);
    expect(() => walletStandardAdapter({ ...wallet, accounts: [] })).toThrow(
      /no connected account/,
    );
  });

  it("refuses an account whose address is not a wallet address", () => {
    const { wallet, account } = keypairStandardWallet();
    expect(() =>
      walletStandardAdapter(wallet, { ...account, address: "not-base58-0OIl" as WalletAddress }),
    ).toThrow();
  });
});
