import { ErrorCode, isWalletAddress, ProtocolError, type WalletAddress } from "@sesame/protocol";
import { solanaRpcPlugin } from "@sesame/solana";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { ErrorBody, Wallet } from "../schemas.js";
import type { App } from "../server.js";

/** Demo faucet amounts: enough SOL for fees, and 100 demo tokens. */
const FAUCET_LAMPORTS = 2_000_000_000n;
const FAUCET_TOKENS = 100_000_000n;

export function chainRoutes(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/chain",
    {
      schema: {
        summary: "The funds tier: which chain this node verifies tips on, its RPC and demo mint",
        response: {
          200: Type.Object({
            chain: Type.String(),
            tips: Type.Boolean(),
            rpc: Type.Union([Type.String(), Type.Null()]),
            demoMint: Type.Union([
              Type.Object({ address: Type.String(), decimals: Type.Integer() }),
              Type.Null(),
            ]),
            memoProgram: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async () => ({
      chain: ctx.config.verify.chain,
      tips: ctx.chain !== undefined,
      rpc: ctx.embedded !== undefined ? "/rpc" : null,
      demoMint: ctx.embedded !== undefined ? { ...ctx.embedded.demoMint } : null,
      memoProgram: ctx.embedded !== undefined ? ctx.embedded.memoProgram : null,
    }),
  );

  app.post(
    "/v1/faucet",
    {
      schema: {
        summary:
          "Embedded chain only: airdrop SOL and demo tokens to a wallet's main token account",
        body: Type.Object({ wallet: Wallet }),
        response: {
          200: Type.Object({ lamports: Type.String(), tokens: Type.String(), mint: Type.String() }),
          "4xx": ErrorBody,
        },
      },
    },
    async (req) => {
      const embedded = ctx.embedded;
      if (embedded === undefined)
        throw new ProtocolError(ErrorCode.NOT_FOUND, {
          what: "a faucet (this node's chain is not the embedded one)",
        });
      if (!isWalletAddress(req.body.wallet)) {
        throw new ProtocolError(ErrorCode.INVALID_FIELD, {
          field: "wallet",
          reason: "is not a wallet address",
        });
      }
      await embedded.fund(req.body.wallet as WalletAddress as never, {
        lamports: FAUCET_LAMPORTS,
        tokens: FAUCET_TOKENS,
      });
      return {
        lamports: String(FAUCET_LAMPORTS),
        tokens: String(FAUCET_TOKENS),
        mint: embedded.demoMint.address,
      };
    },
  );

  if (ctx.embedded !== undefined)
    void app.register(solanaRpcPlugin, { chain: ctx.embedded, path: "/rpc" });
}
