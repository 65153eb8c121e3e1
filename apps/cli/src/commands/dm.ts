import type { Command } from "commander";
import { dim, relativeTime, short, table } from "../output.js";
import { action } from "../run.js";
import { reportSent } from "./social.js";

export function dmCommands(program: Command): void {
  const dm = program
    .command("dm")
    .description("end-to-end encrypted direct messages: the node stores ciphertext only");

  dm.command("send")
    .description(
      "encrypt to each live session of the recipient (and your own), then send as this session",
    )
    .argument("<wallet>", "the recipient's wallet address")
    .argument("<text...>", "the message")
    .action(
      action<[string, string[]]>(async (ctx, _o, to, words) => {
        await ctx.unlock();
        const { social } = await ctx.clients();
        const sent = await social.sendDm(to, words.join(" "));
        await reportSent(ctx, "sent", sent);
        if (sent.leftOut.length > 0) {
          ctx.out.note(
            `note: ${sent.leftOut.length} session(s) left out, over the ${sent.copies}-copies limit (they cannot read this message): ${sent.leftOut
              .map((s) => `${short(s.wallet)} ${s.device}`)
              .join(", ")}`,
          );
        }
      }),
    );

  dm.command("inbox")
    .description("direct messages to and from this wallet, decrypted with this session's key")
    .option("--limit <n>", "how many", (v) => Number.parseInt(v, 10), 20)
    .option("--cursor <cursor>", "continue after a previous page")
    .action(
      action<[], { limit: number; cursor?: string }>(async (ctx, o) => {
        await ctx.unlock();
        const { social } = await ctx.clients();
        const me = await ctx.address();
        const page = await social.inbox({ limit: o.limit, cursor: o.cursor ?? null });
        const items = page.items.map((m) => ({
          id: m.id,
          from: m.from,
          to: m.to,
          at: m.at,
          text: m.message?.text ?? null,
        }));
        ctx.out.result({ items, next: page.next }, () =>
          items.length === 0
            ? "no direct messages"
            : table(
                ["WHEN", "FROM", "TO", "MESSAGE"],
                items.map((m) => [
                  relativeTime(m.at),
                  m.from === me ? "me" : short(m.from),
                  m.to === me ? "me" : short(m.to),
                  m.text ?? dim("(not readable by this session: it was not live when sent)"),
                ]),
              ) + (page.next === null ? "" : `\n${dim(`more: --cursor ${page.next}`)}`),
        );
      }),
    );
}
