import { ErrorCode, ProtocolError } from "@sesame/protocol";
import {
  type Address,
  type CompiledTransactionMessage,
  type CompiledTransactionMessageWithLifetime,
  getBase58Decoder,
  getBase64Decoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  getTransactionEncoder,
  type Transaction,
} from "@solana/kit";
import type { TransactionSignature } from "./chain.js";
import { TRANSACTION_SIZE_LIMIT } from "./constants.js";

export type LegacyOrV0Message = Exclude<CompiledTransactionMessage, { version: 1 }> &
  CompiledTransactionMessageWithLifetime;

/** A wire transaction taken apart: its message, its accounts and its first signature. */
export interface DecodedWire {
  readonly transaction: Transaction;
  readonly message: LegacyOrV0Message;
  /** The first signature (the fee payer's): the transaction's id. */
  readonly signature: TransactionSignature;
  readonly staticAccounts: readonly Address[];
  readonly signers: readonly Address[];
}

const txDecoder = getTransactionDecoder();
const txEncoder = getTransactionEncoder();
const messageDecoder = getCompiledTransactionMessageDecoder();
const base58 = getBase58Decoder();

function invalid(reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.INVALID_FIELD, { field: "transaction", reason });
}

/** Decodes legacy and v0 wire transactions; refuses anything else with INVALID_FIELD. */
export function decodeWire(wire: Uint8Array): DecodedWire {
  let transaction: Transaction;
  let message: CompiledTransactionMessage & CompiledTransactionMessageWithLifetime;
  try {
    transaction = txDecoder.decode(wire);
    message = messageDecoder.decode(transaction.messageBytes) as typeof message;
  } catch {
    throw invalid("not a Solana transaction");
  }
  if (message.version === 1) throw invalid("only legacy and v0 transactions are supported");
  const first = Object.values(transaction.signatures)[0];
  const signature = base58.decode(first ?? new Uint8Array(64)) as TransactionSignature;
  const signers = message.staticAccounts.slice(0, message.header.numSignerAccounts);
  return Object.freeze({
    transaction,
    message,
    signature,
    staticAccounts: message.staticAccounts,
    signers,
  });
}

/** Program address of each top-level instruction (to name a failure). */
export function instructionPrograms(message: LegacyOrV0Message): (Address | undefined)[] {
  return message.instructions.map((ix) => message.staticAccounts[ix.programAddressIndex]);
}

/** The program of each instruction of a wire transaction; empty if it does not decode. */
export function programsOfWire(wire: Uint8Array): (Address | undefined)[] {
  try {
    return instructionPrograms(decodeWire(wire).message);
  } catch {
    return [];
  }
}

export function encodeWire(transaction: Transaction): Uint8Array {
  return Uint8Array.from(txEncoder.encode(transaction));
}

/** Refuses a transaction over the 1,232-byte packet limit (LiteSVM would accept it). */
export function assertWithinSizeLimit(size: number): void {
  if (size > TRANSACTION_SIZE_LIMIT) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, {
      field: "transaction",
      max: TRANSACTION_SIZE_LIMIT,
      actual: size,
    });
  }
}

export const toBase64 = (bytes: Uint8Array): string => getBase64Decoder().decode(bytes);
export const fromBase64 = (text: string): Uint8Array =>
  Uint8Array.from(getBase64Encoder().encode(text));
