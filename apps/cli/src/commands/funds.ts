/**
 * `sesame funds`: the funds tier from a terminal, for the wallet of the keypair file. A
 * funded session's leftovers go back with END (no prompt) where the session key lives;
 * when that device is gone, `sesame funds recover` takes them back with one wallet
 * signature.
 */
import { type ChainInfo, nodeChain, recoverFunds, walletSessionAccounts } from "@sesame/client";
import type { WalletAddress } from "@sesame/protocol";
import type { Command } from "commander";
import type { Context } from "../context.js";
import { CliError, dim, EXIT, green, short, table } from "../output.js";
import { action } from "../run.js";

async function nodeFunds(ctx: Context) {
  const info: ChainInfo = await ctx.api.chainInfo();
  const mint = info.tipMint ?? info.demoMint;
  const reached = nodeChain(ctx.api, info);
  if (reached === null || mint === null || mint === undefined) {
    throw new CliError(
      EXIT.REFUSED,
      "this node has no chain for tips",
      "start it with the embedded chain, or SOLANA_RPC_URL and SESAME_TIP_MINT",
    );
  }
  return { ...reached, mint };
}

const tokens = (amount: bigint, decimals: number) => {
  const s = amount.toString().padStart(decimals + 1, "0");
  return decimals === 0 ? s : `${s.slice(0, -decimals)}.${s.slice(-decimals)}`;
};

export function fundsCommands(program: Command): void {
  const funds = program
    .command("funds")
    .description("the tip funds of your sessions: session token accounts, and RECOVER");

  funds
    .command("accounts")
    .description("the wallet's session token accounts for the node's tip mint, on every device")
    .action(
      action(async (ctx) => {
        const { chain, mint } = await nodeFunds(ctx);
        const wallet = await ctx.address();
        const found = await walletSessionAccounts(chain, wallet as WalletAddress, mint.address);
        const rows = found.map((a) => ({
          address: a.address,
          balance: a.token.amount.toString(),
          delegate: a.token.delegate,
          delegatedAmount: a.token.delegatedAmount.toString(),
          lamports: a.lamports.toString(),
        }));
        ctx.out.result({ wallet, mint: mint.address, accounts: rows }, () =>
          rows.length === 0
            ? "no session token accounts"
            : table(
                ["account", "balance", "delegate", "allowance"],
                found.map((a) => [
                  a.address,
                  tokens(a.token.amount, mint.decimals),
                  a.token.delegate === null ? dim("none") : short(a.token.delegate),
                  tokens(a.token.delegatedAmount, mint.decimals),
                ]),
              ),
        );
      }),
    );

  funds
    .command("recover")
    .description(
      "take back the balance of session token accounts (all with a balance or a delegate, or those named) and revoke their delegates: one wallet signature",
    )
    .argument("[accounts...]", "session token accounts (see `sesame funds accounts`)")
    .option("--close", "close the accounts too, returning their rent")
    .action(
      action<[string[]], { close?: boolean }>(async (ctx, o, named) => {
        const { chain, mint, memoProgram } = await nodeFunds(ctx);
        const wallet = ctx.wallet;
        const found = await walletSessionAccounts(chain, wallet.address, mint.address);
        const chosen = (
          named.length > 0
            ? found.filter((a) => named.includes(a.address))
            : found.filter(
                (a) => o.close === true || a.token.amount > 0n || a.token.delegate !== null,
              )
        ).map((a) => a.address);
        const unknown = named.filter((n) => !found.some((a) => a.address === n));
        if (unknown.length > 0) {
          throw new CliError(
            EXIT.USAGE,
            `not a session token account of ${wallet.address}: ${unknown.join(", ")}`,
            "see `sesame funds accounts`",
          );
        }
        const recovered = await recoverFunds(chain, wallet, chosen, {
          close: o.close === true,
          ...(memoProgram === undefined ? {} : { memoProgram }),
        });
        const rows = recovered.map((r) => ({
          account: r.account,
          signature: r.signature,
          recovered: r.recovered.toString(),
        }));
        ctx.out.result({ wallet: wallet.address, mint: mint.address, recovered: rows }, () =>
          rows.length === 0
            ? "nothing to recover"
            : recovered
                .map(
                  (r) =>
                    `${green("recovered")} ${tokens(r.recovered, mint.decimals)} from ${r.account}${o.close ? " (closed)" : ""}`,
                )
                .join("\n"),
        );
      }),
    );
}
