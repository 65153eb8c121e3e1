/**
 * `sesame`: the Sesame command line. One wallet signature starts a session; every command
 * after that acts with the session key, with no prompt, until it expires or is revoked.
 *
 * Exit codes: 0 ok · 1 refused (the error's code says why) · 2 usage · 3 node unreachable
 * (a signed action is queued) · 4 passphrase, keystore or wallet file · 5 not confirmed ·
 * 70 internal error.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { benchCommands } from "./commands/bench.js";
import { dmCommands } from "./commands/dm.js";
import { fundsCommands } from "./commands/funds.js";
import { nodeCommands } from "./commands/node.js";
import { sessionCommands } from "./commands/session.js";
import { socialCommands } from "./commands/social.js";
import { syncCommands } from "./commands/sync.js";
import { walletCommands } from "./commands/wallet.js";
import { DEFAULT_APP, DEFAULT_NODE } from "./context.js";
import { describeError, EXIT, type ExitCode, output, printFailure } from "./output.js";
import { status } from "./run.js";

export function buildProgram(): Command {
  const program = new Command("sesame")
    .description(
      "Sesame: session keys for decentralized social media on Solana.\nSign once to start a session; then post, reply, react, follow and message without wallet prompts.",
    )
    .version("0.1.0")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .addOption(
      new Option("--node <url>", `the node to talk to (or SESAME_NODE; default ${DEFAULT_NODE})`),
    )
    .addOption(
      new Option(
        "--keystore <path>",
        "encrypted session keystore (or SESAME_KEYSTORE; default ~/.config/sesame/keystore.json)",
      ),
    )
    .addOption(
      new Option(
        "--keypair <path>",
        "wallet keypair file (or SESAME_KEYPAIR; default ~/.config/solana/id.json)",
      ),
    )
    .addOption(
      new Option(
        "--as <wallet>",
        "act for this wallet's session when the keystore holds several (or SESAME_WALLET); the keypair file is read only to sign",
      ),
    )
    .addOption(
      new Option("--app <domain>", `the app name sessions are bound to (default ${DEFAULT_APP})`),
    )
    .addOption(new Option("--json", "print one JSON document (for scripts)"))
    .addHelpText(
      "after",
      `
The keystore passphrase comes from SESAME_PASSPHRASE, or is asked for in a terminal.
With SESAME_WALLET_SIGNATURE_LOG=path, the wallet appends a line for every signature it
makes (an audit of wallet prompts: one per session start, renew or revoke).

Exit codes: 0 ok, 1 refused by the node (printed with its code), 2 usage,
3 not delivered yet: node unreachable or busy, or over the hourly rate (the signed
action is queued), 4 passphrase/keystore/wallet,
5 not confirmed, 70 internal error.

Start here:
  sesame wallet new
  sesame node start                    # in another terminal
  sesame session start --cap post=100
  sesame post "gm from a session key"
  sesame feed`,
    );
  walletCommands(program);
  nodeCommands(program);
  sessionCommands(program);
  socialCommands(program);
  dmCommands(program);
  benchCommands(program);
  fundsCommands(program);
  syncCommands(program);
  // Every subcommand exits through main(), with our codes.
  const inherit = (cmd: Command) => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError("(add --help for usage)");
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Runs the CLI on `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  status.exit = undefined;
  const json = argv.includes("--json");
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return status.exit ?? EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; anything else is a usage error.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const failure = describeError(e);
    printFailure(output(json), failure);
    if (failure.exit === EXIT.INTERNAL && process.env.SESAME_DEBUG === "1") console.error(e);
    return failure.exit;
  }
}

function isEntry(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) process.exitCode = await main(process.argv.slice(2));
