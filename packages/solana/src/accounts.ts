/**
 * The account layout of the funds tier. Per wallet and mint:
 *  - the wallet's main token account: its associated token account (ATA), never delegated;
 *  - one session token account per device: owned by the wallet, at an address derived with
 *    `createAccountWithSeed` from the wallet, a seed of (mint, device id) and the token
 *    program. The device recomputes it from its id; no extra key to keep, no extra signer.
 */
import { ErrorCode, ProtocolError } from "@sesame/protocol";
import { type Address, createAddressWithSeed, getBase58Decoder } from "@solana/kit";
import { findAssociatedTokenPda, getTokenDecoder } from "@solana-program/token";
import type { ChainAccount } from "./chain.js";
import { SESSION_ACCOUNT_SEED_DOMAIN, TOKEN_ACCOUNT_SIZE, TOKEN_PROGRAM } from "./constants.js";

const MAX_DEVICE_ID_LENGTH = 128;
/** A System seed is at most 32 bytes. 32 base58 characters carry ~187 bits. */
const SEED_LENGTH = 32;

/**
 * The seed of a device's session token account for a mint: 32 base58 characters of
 * SHA-256(domain, mint, device id). Distinct per mint because a token account holds one mint.
 */
export async function sessionAccountSeed(mint: Address, deviceId: string): Promise<string> {
  if (
    typeof deviceId !== "string" ||
    deviceId.length === 0 ||
    deviceId.length > MAX_DEVICE_ID_LENGTH
  ) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "deviceId",
      reason: `must be 1 to ${MAX_DEVICE_ID_LENGTH} characters`,
    });
  }
  const input = new TextEncoder().encode(`${SESSION_ACCOUNT_SEED_DOMAIN}\n${mint}\n${deviceId}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  return getBase58Decoder().decode(digest).slice(0, SEED_LENGTH);
}

export interface SessionAccountAddress {
  readonly address: Address;
  readonly seed: string;
}

/**
 * Address derivations are pure but not free (SHA-256 rounds, and an on-curve check per PDA
 * bump): remember the recent ones. Bounded, so a node deriving many cannot grow it.
 */
function memo<T>(limit: number, compute: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    let hit = cache.get(key);
    if (hit === undefined) {
      hit = compute(key);
      hit.catch(() => cache.delete(key));
      if (cache.size >= limit) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(key, hit);
    }
    return hit;
  };
}

const sessionAddresses = memo(1024, async (key) => {
  const [wallet, mint, deviceId] = JSON.parse(key) as [Address, Address, string];
  const seed = await sessionAccountSeed(mint, deviceId);
  const address = await createAddressWithSeed({
    baseAddress: wallet,
    programAddress: TOKEN_PROGRAM,
    seed,
  });
  return Object.freeze({ address, seed });
});

/** Where a device's session token account for `mint` lives (whether or not it exists yet). */
export function sessionTokenAccountAddress(
  wallet: Address,
  mint: Address,
  deviceId: string,
): Promise<SessionAccountAddress> {
  return sessionAddresses(JSON.stringify([wallet, mint, deviceId]));
}

const associatedAddresses = memo(4096, async (key) => {
  const [owner, mint] = key.split(":") as [Address, Address];
  const [ata] = await findAssociatedTokenPda({ owner, mint, tokenProgram: TOKEN_PROGRAM });
  return ata;
});

/** The wallet's main token account for a mint: its associated token account. */
export function mainTokenAccountAddress(owner: Address, mint: Address): Promise<Address> {
  return associatedAddresses(`${owner}:${mint}`);
}

export interface TokenAccountState {
  readonly mint: Address;
  readonly owner: Address;
  readonly amount: bigint;
  readonly delegate: Address | null;
  readonly delegatedAmount: bigint;
  readonly state: "uninitialized" | "initialized" | "frozen";
  readonly closeAuthority: Address | null;
}

const tokenDecoder = getTokenDecoder();
const STATES = ["uninitialized", "initialized", "frozen"] as const;

/** Decodes an SPL-Token account; null when the account is not one. */
export function decodeTokenAccount(account: ChainAccount | null): TokenAccountState | null {
  if (account === null || account.owner !== TOKEN_PROGRAM) return null;
  if (account.data.length !== TOKEN_ACCOUNT_SIZE) return null;
  const t = tokenDecoder.decode(account.data);
  return Object.freeze({
    mint: t.mint,
    owner: t.owner,
    amount: t.amount,
    delegate: t.delegate.__option === "Some" ? t.delegate.value : null,
    delegatedAmount: t.delegatedAmount,
    state: STATES[t.state] ?? "uninitialized",
    closeAuthority: t.closeAuthority.__option === "Some" ? t.closeAuthority.value : null,
  });
}
