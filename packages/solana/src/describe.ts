/**
 * What a wallet should show before it signs one of our transactions: every instruction,
 * by program and name, with its amounts and accounts, and the memos in full. Decoding is
 * by the programs' instruction layouts (System, SPL-Token, Associated-Token, Memo,
 * Compute-Budget); anything else is shown as its program and data size.
 */
import { formatUnits } from "@sesame/protocol";
import type { Address } from "@solana/kit";
import {
  ASSOCIATED_TOKEN_PROGRAM,
  COMPUTE_BUDGET_PROGRAM,
  SYSTEM_PROGRAM,
  TOKEN_PROGRAM,
} from "./constants.js";
import { programName } from "./errors.js";
import { decodeWire } from "./wire.js";

export interface DescribedInstruction {
  /** `system`, `token`, `associated-token`, `memo`, `compute-budget`, or the address. */
  readonly program: string;
  /** The instruction's name, e.g. `TransferChecked`. */
  readonly name: string;
  /** Amounts and accounts in words; the memo's text for a memo. */
  readonly detail: string;
}

export interface DescribedTransaction {
  /** Wire size, bytes. */
  readonly size: number;
  readonly feePayer: Address;
  readonly signers: readonly Address[];
  readonly instructions: readonly DescribedInstruction[];
  /** The text of every Memo instruction, in order. */
  readonly memos: readonly string[];
}

const SYSTEM_NAMES = [
  "CreateAccount",
  "Assign",
  "Transfer",
  "CreateAccountWithSeed",
  "AdvanceNonceAccount",
  "WithdrawNonceAccount",
  "InitializeNonceAccount",
  "AuthorizeNonceAccount",
  "Allocate",
  "AllocateWithSeed",
  "AssignWithSeed",
  "TransferWithSeed",
  "UpgradeNonceAccount",
];

const TOKEN_NAMES = [
  "InitializeMint",
  "InitializeAccount",
  "InitializeMultisig",
  "Transfer",
  "Approve",
  "Revoke",
  "SetAuthority",
  "MintTo",
  "Burn",
  "CloseAccount",
  "FreezeAccount",
  "ThawAccount",
  "TransferChecked",
  "ApproveChecked",
  "MintToChecked",
  "BurnChecked",
  "InitializeAccount2",
  "SyncNative",
  "InitializeAccount3",
  "InitializeMultisig2",
  "InitializeMint2",
];

function u64(data: Uint8Array, at: number): bigint | undefined {
  if (data.length < at + 8) return undefined;
  return new DataView(data.buffer, data.byteOffset + at, 8).getBigUint64(0, true);
}

function u32(data: Uint8Array, at: number): number | undefined {
  if (data.length < at + 4) return undefined;
  return new DataView(data.buffer, data.byteOffset + at, 4).getUint32(0, true);
}

const sol = (lamports: bigint | undefined) =>
  lamports === undefined ? "?" : `${formatUnits(lamports.toString(), 9)} SOL`;

function describeSystem(data: Uint8Array, account: (i: number) => string): [string, string] {
  const kind = u32(data, 0) ?? -1;
  const name = SYSTEM_NAMES[kind] ?? `Unknown(${kind})`;
  switch (name) {
    case "Transfer":
      return [name, `${sol(u64(data, 4))} from ${account(0)} to ${account(1)}`];
    case "CreateAccount":
      return [name, `${account(1)} with ${sol(u64(data, 4))} of rent, paid by ${account(0)}`];
    case "CreateAccountWithSeed": {
      // base (32) · seed (u64 length + bytes) · lamports · space · owner
      const seedLength = Number(u64(data, 36) ?? 0n);
      return [
        name,
        `${account(1)} with ${sol(u64(data, 44 + seedLength))} of rent, paid by ${account(0)}`,
      ];
    }
    default:
      return [name, account(0)];
  }
}

function describeToken(data: Uint8Array, account: (i: number) => string): [string, string] {
  const kind = data[0] ?? -1;
  const name = TOKEN_NAMES[kind] ?? `Unknown(${kind})`;
  const checked = (verb: string) => {
    const amount = u64(data, 1);
    const decimals = data[9];
    const shown =
      amount === undefined || decimals === undefined
        ? "?"
        : `${formatUnits(amount.toString(), decimals)} (${amount} base units)`;
    return `${verb} ${shown} of token ${account(1)}`;
  };
  switch (name) {
    case "TransferChecked":
      return [name, `${checked("move")} from ${account(0)} to ${account(2)}`];
    case "ApproveChecked":
      return [
        name,
        `${checked("let")} in ${account(0)} be spent by the delegate ${account(2)}, for the owner ${account(3)}`,
      ];
    case "Transfer":
      return [name, `${u64(data, 1) ?? "?"} base units from ${account(0)} to ${account(1)}`];
    case "Revoke":
      return [name, `remove the delegate of ${account(0)}`];
    case "CloseAccount":
      return [name, `close ${account(0)}, its rent to ${account(1)}`];
    case "InitializeAccount3":
      return [name, `${account(0)} for token ${account(1)}`];
    default:
      return [name, account(0)];
  }
}

/** Takes a signed or unsigned wire transaction (legacy or v0) apart, for a wallet's dialog. */
export function describeTransaction(wire: Uint8Array): DescribedTransaction {
  const decoded = decodeWire(wire);
  const { message, staticAccounts } = decoded;
  const memos: string[] = [];
  const instructions = message.instructions.map((ix): DescribedInstruction => {
    const programAddress = staticAccounts[ix.programAddressIndex];
    const program = programName(programAddress);
    const data = Uint8Array.from(ix.data ?? []);
    const indices = ix.accountIndices ?? [];
    const account = (i: number) => {
      const index = indices[i];
      return index === undefined ? "?" : (staticAccounts[index] ?? `lookup #${index}`);
    };
    let name: string;
    let detail: string;
    if (program === "memo") {
      const text = new TextDecoder().decode(data);
      memos.push(text);
      [name, detail] = ["Memo", text];
    } else if (programAddress === SYSTEM_PROGRAM) {
      [name, detail] = describeSystem(data, account);
    } else if (programAddress === TOKEN_PROGRAM) {
      [name, detail] = describeToken(data, account);
    } else if (programAddress === ASSOCIATED_TOKEN_PROGRAM) {
      [name, detail] = [
        data[0] === 1 ? "CreateIdempotent" : "Create",
        `${account(1)}, the token account of ${account(2)} for token ${account(3)}, rent paid by ${account(0)}`,
      ];
    } else if (programAddress === COMPUTE_BUDGET_PROGRAM) {
      [name, detail] =
        data[0] === 2
          ? ["SetComputeUnitLimit", `${u32(data, 1) ?? "?"} compute units`]
          : data[0] === 3
            ? ["SetComputeUnitPrice", `${u64(data, 1) ?? "?"} micro-lamports per compute unit`]
            : [`Unknown(${data[0] ?? -1})`, ""];
    } else {
      [name, detail] = ["Unknown", `${data.length} bytes of data`];
    }
    return Object.freeze({ program, name, detail });
  });
  return Object.freeze({
    size: wire.length,
    feePayer: staticAccounts[0] as Address,
    signers: decoded.signers,
    instructions: Object.freeze(instructions),
    memos: Object.freeze(memos),
  });
}

/** The description as plain text, one numbered line per instruction. */
export function describeTransactionText(described: DescribedTransaction): string {
  return [
    `Solana transaction, ${described.size} bytes, fee paid by ${described.feePayer}`,
    ...described.instructions.map(
      (ix, i) => `${i + 1}. ${ix.program} ${ix.name}${ix.detail === "" ? "" : `: ${ix.detail}`}`,
    ),
  ].join("\n");
}
