import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { toBase58, type WalletAddress } from "@sesame/protocol";
import {
  getTransactionDecoder,
  getTransactionEncoder,
  type Transaction,
} from "@solana/transactions";
import type { Wallet } from "./wallet.js";

/** Reads a Solana CLI keypair file: a JSON array of 64 numbers (secret seed || public key). */
export function readKeypairFile(path: string): { seed: Uint8Array; publicKey: Uint8Array } {
  const raw = JSON.parse(readFileSync(path, "utf8")) as unknown;
  if (
    !Array.isArray(raw) ||
    raw.length !== 64 ||
    raw.some((b) => !Number.isInteger(b) || b < 0 || b > 255)
  ) {
    throw new Error(`${path} is not a Solana keypair file (a JSON array of 64 bytes)`);
  }
  const bytes = Uint8Array.from(raw as number[]);
  const seed = bytes.slice(0, 32);
  const publicKey = bytes.slice(32);
  if (toBase58(ed25519.getPublicKey(seed)) !== toBase58(publicKey)) {
    throw new Error(`${path}: the public key does not match the secret key`);
  }
  return { seed, publicKey };
}

/** Writes a new keypair file (mode 0600) in the Solana CLI format; refuses to overwrite. */
export function createKeypairFile(path: string): WalletAddress {
  if (existsSync(path)) throw new Error(`${path} already exists; not overwriting a wallet`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const seed = randomBytes(32);
  const publicKey = ed25519.getPublicKey(seed);
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, JSON.stringify([...seed, ...publicKey]));
  } finally {
    closeSync(fd);
  }
  return toBase58(publicKey) as WalletAddress;
}

/** The environment variable naming a file the keypair wallet logs every signature to. */
export const SIGNATURE_LOG_ENV = "SESAME_WALLET_SIGNATURE_LOG";

/**
 * A wallet backed by a keypair file. `onPrompt` is called once per signature request: in
 * a terminal that is where a person would be asked. With `signatureLog` (default: the
 * file named by SESAME_WALLET_SIGNATURE_LOG), the wallet itself appends one line per
 * signature it produces — time, kind, the signature in base58 — so an audit (or a test)
 * counts wallet signatures independently of whoever called it.
 */
export function keypairWallet(
  path: string,
  onPrompt?: (what: "message" | "transactions") => void,
  options: { readonly signatureLog?: string | undefined } = {},
): Wallet {
  const { seed, publicKey } = readKeypairFile(path);
  const address = toBase58(publicKey) as WalletAddress;
  const logPath = "signatureLog" in options ? options.signatureLog : process.env[SIGNATURE_LOG_ENV];
  const log = (kind: string, signature: Uint8Array) => {
    if (logPath === undefined || logPath === "") return;
    appendFileSync(
      logPath,
      `${new Date().toISOString()} ${kind} ${address} ${toBase58(signature)}\n`,
      { mode: 0o600 },
    );
  };
  return Object.freeze({
    address,
    async signMessage(message: Uint8Array) {
      onPrompt?.("message");
      const signature = ed25519.sign(message, seed);
      log("message", signature);
      return signature;
    },
    async signTransactions(transactions: readonly Uint8Array[]) {
      onPrompt?.("transactions");
      return transactions.map((wire) => {
        const tx = getTransactionDecoder().decode(wire);
        if (!(address in tx.signatures))
          throw new Error("this wallet is not a signer of the transaction");
        const signature = ed25519.sign(Uint8Array.from(tx.messageBytes), seed);
        log("transaction", signature);
        const signed = {
          ...tx,
          signatures: { ...tx.signatures, [address]: signature },
        } as unknown as Transaction;
        return Uint8Array.from(getTransactionEncoder().encode(signed));
      });
    },
  });
}
