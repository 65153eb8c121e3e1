/**
 * Chain failures come back as an instruction index and a program's custom code (or a
 * runtime error name). This turns them into a readable ProtocolError 7004 CHAIN_ERROR
 * {instruction, program, name, message}, using the error tables that
 * `@solana-program/token` and `@solana-program/system` export.
 */
import { describeValue, ErrorCode, ProtocolError } from "@sesame/protocol";
// The error codes only (not all of kit: this module also runs in browsers, where a
// namespace import of kit would keep all of it in the bundle).
import * as solanaErrors from "@solana/errors";
import { isSolanaError, SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM } from "@solana/errors";
import * as system from "@solana-program/system";
import * as token from "@solana-program/token";
import {
  ASSOCIATED_TOKEN_PROGRAM,
  COMPUTE_BUDGET_PROGRAM,
  MEMO_V1_PROGRAM,
  MEMO_V3_PROGRAM,
  SYSTEM_PROGRAM,
  TOKEN_PROGRAM,
} from "./constants.js";

export type ChainError = ProtocolError<typeof ErrorCode.CHAIN_ERROR>;

/** A transaction error in the JSON form Solana's RPC uses (`meta.err`, `value.err`). */
export type TransactionErrorJson =
  | string
  | { readonly InstructionError: readonly [number, InstructionErrorJson] }
  | { readonly [name: string]: unknown };
export type InstructionErrorJson =
  | string
  | { readonly Custom: number }
  | { readonly BorshIoError: string }
  | { readonly [name: string]: unknown };

/** `TOKEN_ERROR__INSUFFICIENT_FUNDS` → `InsufficientFunds`. */
function pascal(constant: string): string {
  return constant
    .toLowerCase()
    .split("_")
    .filter((w) => w.length > 0)
    .map((w) => `${w[0]?.toUpperCase() ?? ""}${w.slice(1)}`)
    .join("");
}

/** `InsufficientFunds` → `insufficient funds`. */
function words(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase();
}

function tableOf(
  module: Record<string, unknown>,
  prefix: string,
  message: (code: number) => string | undefined,
): ReadonlyMap<number, { name: string; message: string }> {
  const table = new Map<number, { name: string; message: string }>();
  for (const [key, value] of Object.entries(module)) {
    if (!key.startsWith(prefix) || typeof value !== "number") continue;
    const name = pascal(key.slice(prefix.length));
    const text = message(value);
    // The programs' messages are stripped from production bundles; the name still reads.
    const readable =
      text === undefined || text.includes("not available in production") ? words(name) : text;
    table.set(value, { name, message: readable });
  }
  return table;
}

const PROGRAM_ERRORS = new Map<string, ReadonlyMap<number, { name: string; message: string }>>([
  [
    TOKEN_PROGRAM,
    tableOf(token, "TOKEN_ERROR__", (c) =>
      token.getTokenErrorMessage(c as Parameters<typeof token.getTokenErrorMessage>[0]),
    ),
  ],
  [
    ASSOCIATED_TOKEN_PROGRAM,
    tableOf(token, "ASSOCIATED_TOKEN_ERROR__", (c) =>
      token.getAssociatedTokenErrorMessage(
        c as Parameters<typeof token.getAssociatedTokenErrorMessage>[0],
      ),
    ),
  ],
  [
    SYSTEM_PROGRAM,
    tableOf(system, "SYSTEM_ERROR__", (c) =>
      system.getSystemErrorMessage(c as Parameters<typeof system.getSystemErrorMessage>[0]),
    ),
  ],
]);

const PROGRAM_NAMES = new Map<string, string>([
  [SYSTEM_PROGRAM, "system"],
  [TOKEN_PROGRAM, "token"],
  [ASSOCIATED_TOKEN_PROGRAM, "associated-token"],
  [MEMO_V1_PROGRAM, "memo"],
  [MEMO_V3_PROGRAM, "memo"],
  [COMPUTE_BUDGET_PROGRAM, "compute-budget"],
]);

/** A short name for a program address (`token`, `system`, …), else the address. */
export function programName(programAddress: string | undefined): string {
  if (programAddress === undefined) return "runtime";
  return PROGRAM_NAMES.get(programAddress) ?? programAddress;
}

/** The program's own name and message for a custom error code, when it has a table. */
export function customErrorOf(
  programAddress: string | undefined,
  code: number,
): { name: string; message: string } {
  const known = programAddress === undefined ? undefined : PROGRAM_ERRORS.get(programAddress);
  return known?.get(code) ?? { name: `Custom(${code})`, message: `custom program error ${code}` };
}

function chainError(instruction: number, program: string, name: string, message: string) {
  return new ProtocolError(ErrorCode.CHAIN_ERROR, { instruction, program, name, message });
}

/**
 * Decodes a transaction error in RPC JSON form. `programs[i]` is the program address of
 * instruction i. Runtime (transaction-level) errors get instruction -1, program `runtime`.
 */
export function decodeTransactionError(
  err: unknown,
  programs: readonly (string | undefined)[],
): ChainError {
  if (typeof err === "string") return chainError(-1, "runtime", err, words(err));
  if (typeof err === "object" && err !== null) {
    const [kind, value] = Object.entries(err)[0] ?? ["Unknown", null];
    if (kind === "InstructionError" && Array.isArray(value)) {
      const index = Number(value[0]);
      const inner = value[1] as unknown;
      const programAddress = programs[index];
      const program = programName(programAddress);
      if (typeof inner === "string") return chainError(index, program, inner, words(inner));
      if (typeof inner === "object" && inner !== null) {
        const [innerKind, innerValue] = Object.entries(inner)[0] ?? ["Unknown", null];
        if (innerKind === "Custom") {
          const { name, message } = customErrorOf(programAddress, Number(innerValue));
          return chainError(index, program, name, message);
        }
        return chainError(
          index,
          program,
          innerKind,
          `${words(innerKind)}: ${describeValue(innerValue)}`,
        );
      }
    }
    if (kind === "DuplicateInstruction")
      return chainError(Number(value), "runtime", kind, words(kind));
    const account = (value as { account_index?: unknown } | null)?.account_index;
    return chainError(
      -1,
      "runtime",
      kind,
      account === undefined ? words(kind) : `${words(kind)} (account ${describeValue(account)})`,
    );
  }
  return chainError(-1, "runtime", "Unknown", describeValue(err));
}

// Kit turns RPC errors into SolanaErrors with numeric codes; map the codes back to names.
const KIT_INSTRUCTION_ERRORS = new Map<number, string>();
const KIT_TRANSACTION_ERRORS = new Map<number, string>();
for (const [key, value] of Object.entries(solanaErrors)) {
  if (typeof value !== "number") continue;
  if (key.startsWith("SOLANA_ERROR__INSTRUCTION_ERROR__"))
    KIT_INSTRUCTION_ERRORS.set(
      value,
      pascal(key.slice("SOLANA_ERROR__INSTRUCTION_ERROR__".length)),
    );
  else if (key.startsWith("SOLANA_ERROR__TRANSACTION_ERROR__"))
    KIT_TRANSACTION_ERRORS.set(
      value,
      pascal(key.slice("SOLANA_ERROR__TRANSACTION_ERROR__".length)),
    );
}

/**
 * Decodes an error thrown by `@solana/kit`'s RPC client (a preflight failure carries the
 * transaction error as its cause). Returns undefined when it is not a transaction error.
 */
export function decodeKitError(
  e: unknown,
  programs: readonly (string | undefined)[],
): ChainError | undefined {
  for (let cause: unknown = e; cause !== undefined; ) {
    if (!isSolanaError(cause)) return undefined;
    const context = cause.context as Record<string, unknown>;
    if (isSolanaError(cause, SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM)) {
      const index = Number(context.index);
      const { name, message } = customErrorOf(programs[index], Number(context.code));
      return chainError(index, programName(programs[index]), name, message);
    }
    const instructionName = KIT_INSTRUCTION_ERRORS.get(cause.context.__code);
    if (instructionName !== undefined) {
      const index = Number(context.index);
      return chainError(
        index,
        programName(programs[index]),
        instructionName,
        words(instructionName),
      );
    }
    const transactionName = KIT_TRANSACTION_ERRORS.get(cause.context.__code);
    if (transactionName !== undefined)
      return chainError(-1, "runtime", transactionName, words(transactionName));
    cause = (cause as Error).cause;
  }
  return undefined;
}
