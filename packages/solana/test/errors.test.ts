import { ErrorCode } from "@sesame/protocol";
import { describe, expect, it } from "vitest";
import {
  customErrorOf,
  decodeTransactionError,
  programName,
  SYSTEM_PROGRAM,
  TOKEN_PROGRAM,
} from "../src/index.js";

describe("chain errors decoded with the programs' error tables", () => {
  it("names a token program custom code", () => {
    const e = decodeTransactionError({ InstructionError: [2, { Custom: 1 }] }, [
      SYSTEM_PROGRAM,
      SYSTEM_PROGRAM,
      TOKEN_PROGRAM,
    ]);
    expect(e.code).toBe(ErrorCode.CHAIN_ERROR);
    expect(e.context).toEqual({
      instruction: 2,
      program: "token",
      name: "InsufficientFunds",
      message: "Insufficient funds",
    });
  });

  it("names system program codes, runtime errors and builtin instruction errors", () => {
    expect(
      decodeTransactionError({ InstructionError: [0, { Custom: 1 }] }, [SYSTEM_PROGRAM]).context,
    ).toMatchObject({ program: "system", name: "ResultWithNegativeLamports" });
    expect(decodeTransactionError("BlockhashNotFound", []).context).toEqual({
      instruction: -1,
      program: "runtime",
      name: "BlockhashNotFound",
      message: "blockhash not found",
    });
    expect(
      decodeTransactionError({ InstructionError: [1, "MissingRequiredSignature"] }, [
        undefined,
        TOKEN_PROGRAM,
      ]).context,
    ).toMatchObject({ instruction: 1, program: "token", name: "MissingRequiredSignature" });
    expect(
      decodeTransactionError({ InsufficientFundsForRent: { account_index: 3 } }, []).context,
    ).toMatchObject({
      name: "InsufficientFundsForRent",
      message: "insufficient funds for rent (account 3)",
    });
    expect(
      decodeTransactionError({ InstructionError: [0, { Custom: 77 }] }, ["Other111"]).context,
    ).toMatchObject({ program: "Other111", name: "Custom(77)" });
  });

  it("describes odd values in an error by type, never calling their own toString", () => {
    const hostile = { toString: 1, valueOf: 1 };
    expect(
      decodeTransactionError({ InstructionError: [0, { BorshIoError: hostile }] }, []).context,
    ).toMatchObject({ name: "BorshIoError", message: "borsh io error: an object" });
    expect(
      decodeTransactionError({ InsufficientFundsForRent: { account_index: hostile } }, []).context,
    ).toMatchObject({ message: "insufficient funds for rent (account an object)" });
  });

  it("keeps names readable where the programs strip their messages (production bundles)", () => {
    expect(customErrorOf(TOKEN_PROGRAM, 4)).toEqual({
      name: "OwnerMismatch",
      message: "Owner does not match",
    });
    expect(programName(undefined)).toBe("runtime");
  });
});
