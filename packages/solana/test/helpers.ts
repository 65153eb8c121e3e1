import {
  type ActionId,
  type Grant,
  grantToText,
  type Scope,
  toBase58,
  validateGrant,
  type WalletAddress,
} from "@sesame/protocol";
import { type Address, generateKeyPairSigner, type KeyPairSigner } from "@solana/kit";
import { EmbeddedChain } from "../src/index.js";

export const CHAIN_ID = "solana:localnet";
export const NETWORK = "sesame-test";
export const VERIFY_CONTEXT = Object.freeze({ chain: CHAIN_ID, network: NETWORK });

const x25519 = () => toBase58(crypto.getRandomValues(new Uint8Array(32)));

export interface FundedGrant {
  readonly grant: Grant;
  readonly text: string;
}

/** A grant from `wallet` to `session` with a tip budget of `budget` base units of `mint`. */
export function fundedGrant(options: {
  wallet: Address;
  session: Address;
  mint: Address;
  budget: bigint;
  decimals?: number;
  device?: string;
  /** Pads the statement to make the text long (to force the memo to carry the id). */
  statement?: string;
  scopes?: readonly Scope[];
}): FundedGrant {
  const now = Date.now();
  const scopes = options.scopes ?? ["post", "reply", "react", "follow", "profile", "dm", "tip"];
  const limits = Object.fromEntries(scopes.map((s) => [s, { total: 100, perHour: 50 }]));
  const grant = validateGrant({
    version: 1,
    domain: "app.sesame.test",
    wallet: options.wallet,
    statement: options.statement ?? "Let this app post and tip for me.",
    uri: "https://app.sesame.test/",
    chain: CHAIN_ID,
    network: NETWORK,
    device: options.device ?? "Test device",
    sessionKey: options.session,
    encryptionKey: x25519(),
    scopes,
    limits,
    tipBudget: {
      mint: options.mint,
      amount: options.budget.toString(),
      decimals: options.decimals ?? 6,
    },
    issuedAt: now,
    notBefore: now,
    expirationTime: now + 86_400_000,
    nonce: toBase58(crypto.getRandomValues(new Uint8Array(16))),
  });
  return { grant, text: grantToText(grant) };
}

/** A random post id (an ActionId is 32 bytes, base58). */
export function postId(): ActionId {
  return toBase58(crypto.getRandomValues(new Uint8Array(32))) as ActionId;
}

export interface Person {
  readonly signer: KeyPairSigner;
  readonly address: Address;
  /** The same address, as the protocol's wallet brand. */
  readonly wallet: WalletAddress;
}

export async function person(): Promise<Person> {
  const signer = await generateKeyPairSigner();
  return { signer, address: signer.address, wallet: signer.address as string as WalletAddress };
}

/** A chain, and a wallet funded with 10 SOL and 100 demo tokens. */
export async function setup(): Promise<{
  chain: EmbeddedChain;
  wallet: Person;
  mint: Address;
  mainAccount: Address;
}> {
  const chain = await EmbeddedChain.create();
  const wallet = await person();
  const funded = await chain.fund(wallet.address, {
    lamports: 10_000_000_000n,
    tokens: 100_000_000n,
  });
  return { chain, wallet, mint: chain.demoMint.address, mainAccount: funded.tokenAccount };
}

export async function tokenBalance(chain: EmbeddedChain, account: Address): Promise<bigint> {
  const a = await chain.getAccount(account);
  if (a === null) return 0n;
  return new DataView(a.data.buffer, a.data.byteOffset + 64, 8).getBigUint64(0, true);
}
