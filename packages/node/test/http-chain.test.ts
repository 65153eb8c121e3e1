/**
 * The funds tier's routes over real HTTP on both engines: `GET /v1/chain` (with the
 * embedded chain, without a chain, with a configured tip mint that is or is not a mint),
 * the demo faucet, and the embedded chain's JSON-RPC at `/rpc`, with bad bodies refused
 * by clear codes and nothing changed on the chain.
 */
import { DEFAULT_MEMO_PROGRAM, EmbeddedChain, mainTokenAccountAddress } from "@sesame/solana";
import { describe, expect, it, onTestFinished } from "vitest";
import { makeGrant, TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import { ENGINES, ErrorCode, expectRefusal, freshNode, get, post, request } from "./helpers.js";

type ChainInfo = {
  chain: string;
  tips: boolean;
  rpc: string | null;
  demoMint: { address: string; decimals: number } | null;
  tipMint: { address: string; decimals: number } | null;
  memoProgram: string | null;
};

type RpcAnswer = {
  jsonrpc: string;
  id: number | string | null;
  result?: unknown;
  error?: { code: number; message: string };
};

/** A JSON-RPC call to the node's `/rpc`, as raw text (the chain answers every body). */
async function rpc(url: string, body: string, contentType = "application/json") {
  const res = await fetch(`${url}/rpc`, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
  });
  return { status: res.status, text: await res.text() };
}

async function chainOf(): Promise<EmbeddedChain> {
  const chain = await EmbeddedChain.create();
  onTestFinished(() => chain.close());
  return chain;
}

describe.each(ENGINES)("chain routes over HTTP on %s", (engine) => {
  it("GET /v1/chain describes the embedded chain, or says there is none", async () => {
    const chain = await chainOf();
    const { url } = await freshNode(engine, { chain });
    const info = await get<ChainInfo>(url, "/v1/chain");
    expect(info.status).toBe(200);
    const demoMint = { address: chain.demoMint.address, decimals: chain.demoMint.decimals };
    expect(info.body).toEqual({
      chain: TEST_CONTEXT.chain,
      tips: true,
      rpc: "/rpc",
      demoMint,
      tipMint: demoMint,
      memoProgram: chain.memoProgram,
    });

    const none = await freshNode(engine);
    expect((await get<ChainInfo>(none.url, "/v1/chain")).body).toEqual({
      chain: TEST_CONTEXT.chain,
      tips: false,
      rpc: null,
      demoMint: null,
      tipMint: null,
      memoProgram: null,
    });
    // No chain: no faucet and no /rpc, each a coded 404.
    const wallet = makeGrant("alice").wallet.address;
    expectRefusal(await post(none.url, "/v1/faucet", { wallet }), 404, ErrorCode.NOT_FOUND);
    expectRefusal(
      await request(none.url, "POST", "/rpc", {
        body: { jsonrpc: "2.0", id: 1, method: "getSlot" },
      }),
      404,
      ErrorCode.NOT_FOUND,
    );
    // Two nodes and a chain (the first PGlite of a run copies its template): a busy machine.
  }, 90_000);

  it("a configured tip mint is read from the chain; one that is not a mint answers 6008, every time", async () => {
    const chain = await chainOf();
    const good = await freshNode(engine, { chain, funds: { tipMint: chain.demoMint.address } });
    const info = await get<ChainInfo>(good.url, "/v1/chain");
    expect(info.status).toBe(200);
    expect(info.body.tipMint).toEqual({
      address: chain.demoMint.address,
      decimals: chain.demoMint.decimals,
    });
    expect(info.body.memoProgram).toBe(DEFAULT_MEMO_PROGRAM);

    // A wallet address is an account, but not a mint (nor, here, anything at all).
    const notAMint = makeGrant("alice").wallet.address;
    const bad = await freshNode(engine, { chain, funds: { tipMint: notAMint } });
    for (let i = 0; i < 2; i++) {
      const reply = await get<{ context: { reason: string } }>(bad.url, "/v1/chain");
      expectRefusal(reply, 503, ErrorCode.UNAVAILABLE);
      expect(reply.body.context.reason).toContain(notAMint);
    }
  });

  it("POST /v1/faucet funds a wallet on the embedded chain; bad bodies get clear codes and change nothing", async () => {
    const chain = await chainOf();
    const { url } = await freshNode(engine, { chain });
    const wallet = makeGrant("alice").wallet.address;
    const funded = await post<{ lamports: string; tokens: string; mint: string }>(
      url,
      "/v1/faucet",
      { wallet },
    );
    expect(funded.status, funded.text).toBe(200);
    expect(funded.body).toEqual({
      lamports: "2000000000",
      tokens: "100000000",
      mint: chain.demoMint.address,
    });
    // The chain itself, over /rpc, shows the funds.
    const balance = JSON.parse(
      (
        await rpc(
          url,
          JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getBalance", params: [wallet] }),
        )
      ).text,
    ) as { result: { value: number } };
    expect(balance.result.value).toBe(2_000_000_000);
    const account = await mainTokenAccountAddress(wallet as never, chain.demoMint.address);
    const tokens = JSON.parse(
      (
        await rpc(
          url,
          JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            method: "getTokenAccountBalance",
            params: [account],
          }),
        )
      ).text,
    ) as { result: { value: { amount: string } } };
    expect(tokens.result.value.amount).toBe("100000000");

    const stranger = makeGrant("stranger").wallet.address;
    const slot = chain.slot;
    const refusals: [unknown, number, ErrorCode, string | undefined][] = [
      [{}, 400, ErrorCode.INVALID_FIELD, "wallet"],
      [{ wallet: 42 }, 400, ErrorCode.INVALID_FIELD, "wallet"],
      [{ wallet: "not base58!" }, 400, ErrorCode.INVALID_FIELD, "wallet"],
      // Base58 of the right length that is not 32 bytes.
      [{ wallet: "z".repeat(44) }, 400, ErrorCode.INVALID_FIELD, "wallet"],
      [[stranger], 400, ErrorCode.INVALID_FIELD, undefined],
    ];
    for (const [body, status, code, field] of refusals) {
      const reply = await post<{ context: { field?: string } }>(url, "/v1/faucet", body);
      expectRefusal(reply, status, code);
      if (field !== undefined) expect(reply.body.context.field).toBe(field);
    }
    expectRefusal(
      await request(url, "POST", "/v1/faucet", { raw: `{"wallet": "${stranger}"` }),
      400,
      ErrorCode.MALFORMED_JSON,
    );
    expectRefusal(
      await request(url, "POST", "/v1/faucet", {
        raw: JSON.stringify({ wallet: stranger }),
        headers: { "content-type": "text/plain" },
      }),
      400,
      ErrorCode.MALFORMED_JSON,
    );
    // None of them reached the chain: the stranger has nothing, and no slot was used.
    expect(await chain.getAccount(stranger as never)).toBeNull();
    expect(chain.slot).toBe(slot);
  });

  it("POST /rpc serves the embedded chain's JSON-RPC, with JSON-RPC errors for bad requests", async () => {
    const chain = await chainOf();
    const { url } = await freshNode(engine, { chain });
    const call = async (body: string, contentType?: string) => {
      const reply = await rpc(url, body, contentType);
      expect(reply.status, reply.text).toBe(200);
      return JSON.parse(reply.text) as RpcAnswer | RpcAnswer[];
    };
    expect(await call(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "getHealth" }))).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: "ok",
    });
    // Any content type: JSON-RPC clients differ in what they send.
    expect(
      await call(JSON.stringify({ jsonrpc: "2.0", id: "a", method: "getHealth" }), "text/plain"),
    ).toMatchObject({ id: "a", result: "ok" });
    const minted = (await call(
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "sesame_getDemoMint" }),
    )) as RpcAnswer;
    expect(JSON.stringify(minted.result)).toContain(chain.demoMint.address);

    const errors: [string, number][] = [
      ["{not json", -32700],
      ["[]", -32600],
      [JSON.stringify({ id: 1, method: "getHealth" }), -32600],
      [JSON.stringify({ jsonrpc: "2.0", id: 1, method: "noSuchMethod" }), -32601],
      [JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getBalance", params: {} }), -32602],
      [JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getBalance", params: ["nope"] }), -32602],
    ];
    for (const [body, code] of errors) {
      const answer = (await call(body)) as RpcAnswer;
      expect(answer.error?.code, body).toBe(code);
      expect(answer.result).toBeUndefined();
    }
    // A batch answers each request in order.
    const batch = (await call(
      JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "getHealth" },
        { jsonrpc: "2.0", id: 2, method: "noSuchMethod" },
      ]),
    )) as RpcAnswer[];
    expect(batch.map((a) => [a.id, a.result ?? a.error?.code])).toEqual([
      [1, "ok"],
      [2, -32601],
    ]);
    // A body over the RPC's own limit (64 KiB) is refused before the chain sees it.
    const huge = await rpc(
      url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "x".repeat(70_000) }),
    );
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.text)).toMatchObject({ code: ErrorCode.PAYLOAD_TOO_LARGE });
  });
});
