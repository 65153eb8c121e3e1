/** Glue between commander and the commands: a Context from the global options. */
import type { Command } from "commander";
import { Context } from "./context.js";
import type { ExitCode } from "./output.js";

/** Set by a command that finished but wants a non-zero exit (e.g. 3: queued). */
export const status: { exit: ExitCode | undefined } = { exit: undefined };

/**
 * Wraps a command body: commander passes the arguments, then the options, then the
 * command; the body gets a Context built from the global options, the arguments and
 * the command's own options.
 */
export function action<A extends unknown[], O = Record<string, unknown>>(
  body: (ctx: Context, options: O, ...args: A) => Promise<void>,
): (...raw: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    const command = raw.at(-1) as Command;
    const options = command.opts() as O;
    const ctx = new Context(command.optsWithGlobals());
    await body(ctx, options, ...(raw.slice(0, -2) as A));
  };
}
