/** The embedded JSON-RPC subset, method by method, through handleRpc (no HTTP). */

import {
  appendTransactionMessageInstructions,
  compileTransaction,
  createNoopSigner,
  createTransactionMessage,
  getBase58Decoder,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from "@solana/kit";
import { getTransferSolInstruction } from "@solana-program/system";
import { beforeAll, describe, expect, it } from "vitest";
import { EmbeddedChain, encodeWire, signTransaction, toBase64 } from "../src/index.js";
import { type Person, person } from "./helpers.js";

let chain: EmbeddedChain;
let alice: Person;
let bob: Person;
let signature: string;

async function call(
  method: string,
  params: unknown[] = [],
): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  return JSON.parse(await chain.handleRpc({ jsonrpc: "2.0", id: 1, method, params }));
}

function transfer(lifetime = chain.currentLifetime(), amount = 1_000_000n) {
  const message = pipe(
    createTransactionMessage({ version: "legacy" }),
    (m) => setTransactionMessageFeePayer(alice.address, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime, m),
    (m) =>
      appendTransactionMessageInstructions(
        [
          getTransferSolInstruction({
            source: createNoopSigner(alice.address),
            destination: bob.address,
            amount,
          }),
        ],
        m,
      ),
  );
  return compileTransaction(message);
}

beforeAll(async () => {
  chain = await EmbeddedChain.create();
  alice = await person();
  bob = await person();
  await chain.fund(alice.address, { lamports: 1_000_000_000n, tokens: 7_000_000n });
  const wire = encodeWire(await signTransaction(transfer(), [alice.signer]));
  // base58 is sendTransaction's default encoding.
  const sent = await call("sendTransaction", [getBase58Decoder().decode(wire)]);
  signature = sent.result as string;
});

describe("embedded JSON-RPC methods", () => {
  it("getTransaction: json and base58 encodings, legacy version, balances in meta", async () => {
    const json = (await call("getTransaction", [signature, { encoding: "json" }])).result as {
      version: string;
      meta: { fee: number; preBalances: number[]; postBalances: number[]; err: null };
      transaction: {
        message: { accountKeys: string[]; header: { numRequiredSignatures: number } };
      };
    };
    expect(json.version).toBe("legacy");
    expect(json.meta.fee).toBe(5000);
    expect(json.transaction.message.accountKeys.slice(0, 2)).toEqual([alice.address, bob.address]);
    expect(json.transaction.message.header.numRequiredSignatures).toBe(1);
    expect((json.meta.preBalances[0] ?? 0) - (json.meta.postBalances[0] ?? 0)).toBe(1_005_000);
    const b58 = (await call("getTransaction", [signature, { encoding: "base58" }])).result as {
      transaction: [string, string];
    };
    expect(b58.transaction[1]).toBe("base58");
    expect((await call("getTransaction", ["1".repeat(64)])).result).toBeNull();
  });

  it("getTransaction refuses a v0 transaction without maxSupportedTransactionVersion", async () => {
    const { signatures } = await chain.fund(bob.address, { lamports: 1n, tokens: 1n });
    const answer = await call("getTransaction", [signatures[0], { encoding: "json" }]);
    expect(answer.error?.code).toBe(-32015);
  });

  it("accounts: getAccountInfo (base64, base58, jsonParsed mint), getMultipleAccounts, token accounts by program", async () => {
    const info = (await call("getAccountInfo", [alice.address, { encoding: "base64" }])).result as {
      value: { lamports: number; data: [string, string] };
    };
    expect(info.value.data).toEqual(["", "base64"]);
    const mint = (
      await call("getAccountInfo", [chain.demoMint.address, { encoding: "jsonParsed" }])
    ).result as {
      value: { data: { parsed: { type: string; info: { decimals: number } } } };
    };
    expect(mint.value.data.parsed).toMatchObject({ type: "mint", info: { decimals: 6 } });
    const many = (await call("getMultipleAccounts", [[alice.address, (await person()).address]]))
      .result as {
      value: unknown[];
    };
    expect(many.value[1]).toBeNull();
    const byProgram = (
      await call("getTokenAccountsByOwner", [
        alice.address,
        { programId: "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA" },
        { encoding: "base64" },
      ])
    ).result as { value: unknown[] };
    expect(byProgram.value).toHaveLength(1);
    expect((await call("getTokenAccountBalance", [alice.address])).error?.code).toBe(-32602);
  });

  it("fees, blockhash validity, statuses", async () => {
    const tx = transfer();
    const fee = (await call("getFeeForMessage", [toBase64(Uint8Array.from(tx.messageBytes))]))
      .result as {
      value: number;
    };
    expect(fee.value).toBe(5000);
    const lifetime = chain.currentLifetime();
    expect((await call("isBlockhashValid", [lifetime.blockhash])).result).toMatchObject({
      value: true,
    });
    expect(
      (await call("isBlockhashValid", ["11111111111111111111111111111111"])).result,
    ).toMatchObject({ value: false });
    const statuses = (await call("getSignatureStatuses", [[signature, "1".repeat(64)]])).result as {
      value: [{ confirmationStatus: string; err: null }, null];
    };
    expect(statuses.value[0]).toMatchObject({ confirmationStatus: "finalized", err: null });
    expect(statuses.value[1]).toBeNull();
  });

  it("simulateTransaction: unsigned with sigVerify off, a stale blockhash replaced", async () => {
    const stale = transfer(chain.currentLifetime(), 2_000n);
    chain.warp({ slots: 200 });
    const unsigned = toBase64(encodeWire(stale));
    const plain = (await call("simulateTransaction", [unsigned, { encoding: "base64" }]))
      .result as {
      value: { err: unknown };
    };
    expect(plain.value.err).toBe("BlockhashNotFound");
    const replaced = (
      await call("simulateTransaction", [
        unsigned,
        { encoding: "base64", replaceRecentBlockhash: true },
      ])
    ).result as {
      value: { err: unknown; replacementBlockhash: { blockhash: string }; logs: string[] };
    };
    expect(replaced.value.err).toBeNull();
    expect(replaced.value.replacementBlockhash.blockhash).toBe(chain.currentLifetime().blockhash);
    expect(
      (
        await call("simulateTransaction", [
          unsigned,
          { encoding: "base64", sigVerify: true, replaceRecentBlockhash: true },
        ])
      ).error?.code,
    ).toBe(-32602);
    // A simulation changes nothing.
    expect(await chain.getBalance(bob.address)).toBe(1_000_001n);
  });

  it("refuses an unsigned transaction with a signature failure", async () => {
    const answer = await call("sendTransaction", [
      toBase64(encodeWire(transfer())),
      { encoding: "base64" },
    ]);
    expect(answer.error).toMatchObject({ code: -32003 });
  });

  it("answers invalid requests as JSON-RPC errors", async () => {
    expect(JSON.parse(await chain.handleRpc({ id: 1, method: "getHealth" }))).toMatchObject({
      error: { code: -32600 },
    });
    expect(JSON.parse(await chain.handleRpc("[]"))).toMatchObject({ error: { code: -32600 } });
    expect((await call("getMinimumBalanceForRentExemption", [-1])).error?.code).toBe(-32602);
    expect((await call("requestAirdrop", [bob.address, 0])).error?.code).toBe(-32602);
    expect((await call("sesame_faucet", [bob.address, { tokens: -1 }])).error?.code).toBe(-32602);
    expect((await call("sesame_getDemoMint")).result).toEqual({
      mint: chain.demoMint.address,
      decimals: 6,
    });
  });
});
