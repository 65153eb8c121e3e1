import { ErrorCode, isWalletAddress, ProtocolError, type WalletAddress } from "@sesame/protocol";
import { DEFAULT_MEMO_PROGRAM, MINT_SIZE, solanaRpcPlugin } from "@sesame/solana";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { ErrorBody, Wallet } from "../schemas.js";
import type { App } from "../server.js";

/** Demo faucet amounts: enough SOL for fees, and 100 demo tokens. */
const FAUCET_LAMPORTS = 2_000_000_000n;
const FAUCET_TOKENS = 100_000_000n;

const MintInfo = Type.Object({ address: Type.String(), decimals: Type.Integer() });

export function chainRoutes(app: App, ctx: NodeContext): void {
  // A configured tip mint's decimals, read from the chain once (they never change).
  let tipMint: Promise<{ address: string; decimals: number } | null> | undefined;
  const readTipMint = async (address: string) => {
    const account = await ctx.chain?.getAccount(address as never);
    if (account === null || account === undefined || account.data.length !== MINT_SIZE)
      throw new ProtocolError(ErrorCode.UNAVAILABLE, {
        reason: `the tip mint ${address} is not a mint on this node's chain`,
      });
    return { address, decimals: account.data[44] ?? 0 };
  };

  app.get(
    "/v1/chain",
    {
      schema: {
        summary:
          "The funds tier: which chain this node verifies tips on, the RPC and Memo program clients use, the tip mint",
        response: {
          200: Type.Object({
            chain: Type.String(),
            tips: Type.Boolean(),
            /** `/rpc` (this node's embedded chain), an absolute RPC URL, or null. */
            rpc: Type.Union([Type.String(), Type.Null()]),
            demoMint: Type.Union([MintInfo, Type.Null()]),
            /** The mint tips move: SESAME_TIP_MINT, else the embedded chain's demo mint. */
            tipMint: Type.Union([MintInfo, Type.Null()]),
            memoProgram: Type.Union([Type.String(), Type.Null()]),
          }),
          "5xx": ErrorBody,
        },
      },
    },
    async () => {
      const funds = ctx.funds ?? {};
      const embedded = ctx.embedded;
      const demoMint = embedded !== undefined ? { ...embedded.demoMint } : null;
      if (funds.tipMint !== undefined && ctx.chain !== undefined) {
        tipMint ??= readTipMint(funds.tipMint).catch((e) => {
          tipMint = undefined; // not cached: the chain may be reachable next time
          throw e;
        });
      }
      return {
        chain: ctx.config.verify.chain,
        tips: ctx.chain !== undefined,
        rpc: embedded !== undefined ? "/rpc" : (funds.rpcUrl ?? null),
        demoMint,
        tipMint: tipMint !== undefined ? await tipMint : demoMint,
        memoProgram:
          funds.memoProgram ??
          embedded?.memoProgram ??
          (ctx.chain !== undefined ? DEFAULT_MEMO_PROGRAM : null),
      };
    },
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
