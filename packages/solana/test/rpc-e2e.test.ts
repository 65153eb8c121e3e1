/**
 * End to end over HTTP: the embedded chain's JSON-RPC mounted at POST /rpc in a real
 * Fastify listening on 127.0.0.1, and `@solana/kit`'s createSolanaRpc talking to it
 * unchanged — start a funded session, tip, verify the tip, end.
 */
import { type TipBody, verifyGrant, type WalletAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  address,
  type Base64EncodedWireTransaction,
  createSolanaRpc,
  lamports,
  type Rpc,
  type SolanaRpcApi,
} from "@solana/kit";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EmbeddedChain,
  encodeWire,
  endSession,
  mainTokenAccountAddress,
  prepareTip,
  rpcChain,
  sendTip,
  signTransaction,
  solanaRpcPlugin,
  startSession,
  submitTransaction,
  toBase64,
  verifyTipOnChain,
} from "../src/index.js";
import { fundedGrant, person, postId, VERIFY_CONTEXT } from "./helpers.js";

let app: FastifyInstance;
let embedded: EmbeddedChain;
let url: string;
let rpc: Rpc<SolanaRpcApi>;

beforeAll(async () => {
  embedded = await EmbeddedChain.create();
  app = Fastify();
  await app.register(solanaRpcPlugin, { chain: embedded });
  const listening = await app.listen({ host: "127.0.0.1", port: 0 });
  url = `${listening}/rpc`;
  rpc = createSolanaRpc(url);
});

afterAll(async () => {
  await app.close();
});

async function raw(body: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return { status: response.status, json: await response.json() };
}

describe("the embedded chain's /rpc with @solana/kit's createSolanaRpc", () => {
  it("answers the cluster-info methods", async () => {
    expect(await rpc.getHealth().send()).toBe("ok");
    expect((await rpc.getVersion().send())["solana-core"]).toMatch(/^litesvm-/);
    expect(await rpc.getGenesisHash().send()).toBe(embedded.genesisHash);
    const slot = await rpc.getSlot().send();
    expect(slot).toBe(embedded.slot);
    const { value } = await rpc.getLatestBlockhash().send();
    expect(value.blockhash).toBe(embedded.currentLifetime().blockhash);
    expect(await rpc.getMinimumBalanceForRentExemption(165n).send()).toBe(2_039_280n);
  });

  it("start a funded session, tip, verify the tip, end — all over HTTP", async () => {
    const chain = rpcChain(url, { pollMs: 5 });
    const wallet = await person();
    const session = await person();
    const author = await person();
    // Faucet: a standard airdrop, and our demo-token method.
    const airdrop = await rpc.requestAirdrop(wallet.address, lamports(2_000_000_000n)).send();
    expect((await rpc.getSignatureStatuses([airdrop]).send()).value[0]?.confirmationStatus).toBe(
      "finalized",
    );
    const faucet = await raw(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "sesame_faucet",
        params: [wallet.address, { lamports: 0, tokens: 20_000_000 }],
      }),
    );
    expect(faucet.status).toBe(200);
    const demo = (
      await raw(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "sesame_getDemoMint" }))
    ).json as {
      result: { mint: string; decimals: number };
    };
    const mint = address(demo.result.mint);
    const main = await mainTokenAccountAddress(wallet.address, mint);
    expect((await rpc.getTokenAccountBalance(main).send()).value.uiAmountString).toBe("20");
    expect((await rpc.getBalance(wallet.address).send()).value).toBe(2_000_000_000n);

    const { grant, text } = fundedGrant({
      wallet: wallet.address,
      session: session.address,
      mint,
      budget: 3_000_000n,
    });
    const started = await startSession(chain, {
      grantText: text,
      deviceId: "browser",
      walletSigner: wallet.signer,
    });
    const verified = await verifyGrant(
      { text, transaction: started.transaction },
      VERIFY_CONTEXT,
      nodeEd25519(),
    );
    expect(verified.signature).toBe(started.signature);

    // Token accounts, parsed as a wallet UI reads them.
    const parsed = await rpc
      .getTokenAccountsByOwner(wallet.address, { mint }, { encoding: "jsonParsed" })
      .send();
    const sessionEntry = parsed.value.find((a) => a.pubkey === started.sessionTokenAccount);
    expect(sessionEntry?.account.data.parsed.info).toMatchObject({
      delegate: session.address,
      delegatedAmount: { amount: "3000000", uiAmountString: "3" },
      owner: wallet.address,
    });

    const post = postId();
    const authorWallet = author.address as string as WalletAddress;
    const tipSignature = await sendTip(chain, {
      grant,
      deviceId: "browser",
      sessionSigner: session.signer,
      author: authorWallet,
      amount: 1_000_000n,
      post,
    });
    const tip: TipBody = {
      post,
      to: authorWallet,
      mint: mint as string as TipBody["mint"],
      amount: "1000000",
      transaction: tipSignature as string as TipBody["transaction"],
    };
    const result = await verifyTipOnChain(chain, { tip, grant, author: authorWallet });
    expect(result.ok).toBe(true);

    // kit decodes getTransaction in json encoding too.
    const json = await rpc
      .getTransaction(tipSignature, { encoding: "json", maxSupportedTransactionVersion: 0 })
      .send();
    expect(json?.meta?.err).toBeNull();
    expect(json?.transaction.message.accountKeys[0]).toBe(session.address);
    expect(json?.meta?.logMessages?.some((l) => l.includes(`sesame-tip:${post}`))).toBe(true);

    // Over the allowance: preflight refuses, and the name comes back through kit's error.
    const over = await prepareTip(chain, {
      grant,
      deviceId: "browser",
      author: authorWallet,
      amount: 2_000_001n,
      post,
    });
    const signed = await signTransaction(over.transaction, [session.signer]);
    await expect(submitTransaction(chain, signed, over)).rejects.toMatchObject({
      code: 7004,
      context: { program: "token", name: "InsufficientFunds", message: "Insufficient funds" },
    });
    const simulated = await rpc
      .simulateTransaction(toBase64(encodeWire(signed)) as Base64EncodedWireTransaction, {
        encoding: "base64",
      })
      .send();
    expect(simulated.value.err).toEqual({ InstructionError: [0n, { Custom: 1n }] });

    const ended = await endSession(chain, {
      grant,
      deviceId: "browser",
      sessionSigner: session.signer,
    });
    expect(ended?.returnedTokens).toBe(2_000_000n);
    expect((await rpc.getBalance(session.address).send()).value).toBe(0n);
    expect((await rpc.getAccountInfo(session.address).send()).value).toBeNull();
    expect((await rpc.getTokenAccountBalance(main).send()).value.amount).toBe("19000000");
  });

  it("speaks JSON-RPC errors with HTTP 200", async () => {
    const parse = await raw("{not json");
    expect(parse.status).toBe(200);
    expect(parse.json).toMatchObject({ error: { code: -32700 } });
    const missing = await raw(
      JSON.stringify({ jsonrpc: "2.0", id: 3, method: "getBlock", params: [] }),
    );
    expect(missing.json).toMatchObject({ id: 3, error: { code: -32601 } });
    const batch = await raw(
      JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "getHealth" },
        { jsonrpc: "2.0", id: 2, method: "getBalance", params: ["not-an-address"] },
      ]),
    );
    expect(batch.json).toMatchObject([
      { id: 1, result: "ok" },
      { id: 2, error: { code: -32602 } },
    ]);
    const tooBig = await raw(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 4,
        method: "sendTransaction",
        params: ["A".repeat(2000), { encoding: "base64" }],
      }),
    );
    expect(tooBig.json).toMatchObject({
      error: { code: -32602, message: expect.stringMatching(/too large/) },
    });
  });
});
