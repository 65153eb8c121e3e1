import { createKeypairFile } from "@sesame/client/node";
import type { Command } from "commander";
import { defaultKeypairPath } from "../context.js";
import { CliError, EXIT } from "../output.js";
import { action } from "../run.js";

export function walletCommands(program: Command): void {
  const wallet = program
    .command("wallet")
    .description(
      "your identity: a Solana CLI keypair file (--keypair, default ~/.config/solana/id.json)",
    );

  wallet
    .command("new")
    .description("create a new keypair file (mode 0600); never overwrites one")
    .addHelpText(
      "after",
      `\nThe file is the Solana CLI format: a JSON array of 64 bytes. Default: ${defaultKeypairPath()}`,
    )
    .action(
      action(async (ctx) => {
        let address: string;
        try {
          address = createKeypairFile(ctx.keypairPath);
        } catch (e) {
          throw new CliError(EXIT.SECRET, (e as Error).message, "pass another --keypair PATH");
        }
        ctx.out.result(
          { address, keypair: ctx.keypairPath },
          () => `created wallet ${address}\n  keypair file ${ctx.keypairPath} (keep it secret)`,
        );
      }),
    );

  wallet
    .command("show")
    .description("print the wallet's address")
    .action(
      action(async (ctx) => {
        const address = ctx.wallet.address;
        ctx.out.result(
          { address, keypair: ctx.keypairPath },
          () => `${address}\n  keypair file ${ctx.keypairPath}`,
        );
      }),
    );
}
