import {
  ErrorCode,
  isProtocolError,
  ProtocolError,
  type SendResult,
  type ServedPost,
  SesameClientError,
} from "@sesame/client";
import type { Command } from "commander";
import type { Context } from "../context.js";
import {
  CliError,
  dim,
  EXIT,
  green,
  relativeTime,
  short,
  table,
  truncate,
  yellow,
} from "../output.js";
import { progressBar } from "../progress.js";
import { action, status } from "../run.js";

/** Why a signed action is still queued, in words. */
function whyQueued(ctx: Context, error: Error | undefined): string {
  if (isProtocolError(error, ErrorCode.OVER_RATE)) {
    return `the node holds it back: ${error.message} (error ${error.code} OVER_RATE). It stays valid until shortly after the session ends (the node's late grace); \`sesame flush\` sends it once the hour allows`;
  }
  if (error instanceof ProtocolError && error.code !== ErrorCode.UNAVAILABLE) {
    return `the node is busy (error ${error.code} ${error.name}); it is signed and kept, and goes out with the next command (or \`sesame flush\`)`;
  }
  if (error instanceof SesameClientError) {
    return `${error.message}; it is signed and kept, and goes out with the next command (or \`sesame flush\`)`;
  }
  return `the node at ${ctx.nodeUrl} is unreachable; it is signed and kept, and goes out with the next command (or \`sesame flush\`)`;
}

/** The action a past-tense report names, for "queued <action> <id>". */
const QUEUED_NOUN: Readonly<Record<string, string>> = {
  posted: "post",
  replied: "reply",
  reacted: "reaction",
  unreacted: "reaction removal",
  followed: "follow",
  unfollowed: "unfollow",
  "profile set": "profile",
  sent: "direct message",
};

/** Prints what happened to one action; a queued one makes the command exit 3. */
export async function reportSent(ctx: Context, what: string, r: SendResult): Promise<void> {
  await ctx.noteRenewal();
  if (r.status === "queued") {
    status.exit = EXIT.UNREACHABLE;
    const error = r.error;
    ctx.out.result(
      {
        status: "queued",
        id: r.id,
        ...(error === undefined
          ? {}
          : {
              reason:
                error instanceof ProtocolError
                  ? { code: error.code, name: error.name, message: error.message }
                  : { code: null, name: error.name, message: error.message },
            }),
      },
      () =>
        `${yellow("queued")} ${QUEUED_NOUN[what] ?? what} ${r.id} (signed, not delivered yet)\n  ${whyQueued(ctx, error)}`,
    );
    return;
  }
  ctx.out.result(
    { status: r.duplicate ? "duplicate" : "accepted", id: r.id },
    () => `${green(r.duplicate ? "already stored" : what)} ${r.id}`,
  );
}

async function readStdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

function reactions(p: ServedPost): string {
  const total = Object.values(p.reactions).reduce((a, b) => a + b, 0);
  return total === 0 ? "" : String(total);
}

function textOf(p: ServedPost): string {
  return (p.payload as { body?: { text?: string } }).body?.text ?? "";
}

function postsTable(items: readonly ServedPost[], wide = false): string {
  const cols = Math.max(40, (process.stdout.columns ?? 120) - 75);
  return table(
    ["WHEN", "AUTHOR", "TEXT", "REPLIES", "LIKES", "ID"],
    items.map((p) => [
      relativeTime(p.receivedAt),
      short(p.wallet),
      wide ? textOf(p) : truncate(textOf(p), cols),
      p.replies === 0 ? "" : String(p.replies),
      reactions(p),
      p.id,
    ]),
  );
}

export function socialCommands(program: Command): void {
  program
    .command("post")
    .description("post as this wallet, signed by the session key (no wallet prompt)")
    .argument("[text...]", "what to say")
    .option("--stdin", "post each non-empty line of standard input, in order")
    .option("--link <url...>", "links to attach")
    .action(
      action<[string[]], { stdin?: boolean; link?: string[] }>(async (ctx, o, words) => {
        const texts = o.stdin === true ? await readStdinLines() : [words.join(" ")];
        if (texts.length === 0 || texts.some((t) => t === "")) {
          throw new CliError(
            EXIT.USAGE,
            "nothing to post",
            'sesame post "hello"  or  sesame post --stdin < lines.txt',
          );
        }
        await ctx.unlock();
        const { social } = await ctx.clients();
        if (o.stdin !== true) {
          await reportSent(
            ctx,
            "posted",
            await social.post(texts[0] as string, { links: o.link ?? [] }),
          );
          return;
        }
        const bar = progressBar(ctx, "posting", texts.length);
        const results: SendResult[] = [];
        for (const text of texts) {
          results.push(await social.post(text, { links: o.link ?? [] }));
          bar.increment();
        }
        bar.stop();
        const queued = results.filter((r) => r.status === "queued").length;
        if (queued > 0) status.exit = EXIT.UNREACHABLE;
        ctx.out.result(
          { accepted: results.length - queued, queued, results },
          () =>
            `${green("posted")} ${results.length - queued}${queued > 0 ? `, ${yellow(`queued ${queued}`)} (node unreachable)` : ""}`,
        );
      }),
    );

  program
    .command("reply")
    .description("reply to a post or reply")
    .argument("<parent>", "the id of the post to reply to")
    .argument("<text...>", "what to say")
    .action(
      action<[string, string[]]>(async (ctx, _o, parent, words) => {
        await ctx.unlock();
        const { social } = await ctx.clients();
        await reportSent(ctx, "replied", await social.reply(parent, words.join(" ")));
      }),
    );

  program
    .command("react")
    .description("react to a post (like by default)")
    .argument("<target>", "the id of the post")
    .argument("[reaction]", "a short word or emoji", "like")
    .option("--undo", "take the reaction back")
    .action(
      action<[string, string], { undo?: boolean }>(async (ctx, o, target, reaction) => {
        await ctx.unlock();
        const { social } = await ctx.clients();
        const r = o.undo
          ? await social.unreact(target, reaction)
          : await social.react(target, reaction);
        await reportSent(ctx, o.undo ? "unreacted" : "reacted", r);
      }),
    );

  program
    .command("follow")
    .description("follow a wallet")
    .argument("<wallet>", "the wallet address to follow")
    .option("--undo", "unfollow")
    .action(
      action<[string], { undo?: boolean }>(async (ctx, o, target) => {
        await ctx.unlock();
        const { social } = await ctx.clients();
        await reportSent(
          ctx,
          o.undo ? "unfollowed" : "followed",
          o.undo ? await social.unfollow(target) : await social.follow(target),
        );
      }),
    );

  const profile = program.command("profile").description("a wallet's profile");
  profile
    .command("set")
    .description("set this wallet's display name, bio and avatar (fields left out are cleared)")
    .option("--name <text>", "display name")
    .option("--bio <text>", "a line about you")
    .option("--avatar <url>", "avatar image URL")
    .action(
      action<[], { name?: string; bio?: string; avatar?: string }>(async (ctx, o) => {
        await ctx.unlock();
        const { social } = await ctx.clients();
        await reportSent(
          ctx,
          "profile set",
          await social.setProfile({
            ...(o.name === undefined ? {} : { displayName: o.name }),
            ...(o.bio === undefined ? {} : { bio: o.bio }),
            ...(o.avatar === undefined ? {} : { avatarUrl: o.avatar }),
          }),
        );
      }),
    );
  profile
    .command("show")
    .description("show a wallet's profile (default: this wallet)")
    .argument("[wallet]", "wallet address")
    .action(
      action<[string | undefined]>(async (ctx, _o, wallet) => {
        const target = wallet ?? (await ctx.address());
        // Name, bio and avatar verified against the wallet's signed profile action.
        const p = await (await ctx.reader()).profile(target);
        ctx.out.result(p, () =>
          [
            `${p.displayName || dim("(no name)")}  ${p.wallet}`,
            p.bio === "" ? undefined : `  ${p.bio}`,
            `  ${p.posts} posts · ${p.followers} followers · ${p.following} following`,
          ]
            .filter((l) => l !== undefined)
            .join("\n"),
        );
      }),
    );

  program
    .command("feed")
    .description("the latest posts, every signature verified (global, one wallet's, or following)")
    .option("--limit <n>", "how many", (v) => Number.parseInt(v, 10), 20)
    .option("--wallet <address>", "only this wallet's posts")
    .option("--following", "posts of the wallets this wallet follows")
    .option("--cursor <cursor>", "continue after a previous page")
    .action(
      action<[], { limit: number; wallet?: string; following?: boolean; cursor?: string }>(
        async (ctx, o) => {
          const reader = await ctx.reader();
          const q = { limit: o.limit, cursor: o.cursor ?? null };
          const page =
            o.wallet !== undefined
              ? await reader.walletPosts(o.wallet, q)
              : o.following
                ? await reader.followingFeed(q)
                : await reader.feed(q);
          ctx.out.result(page, () =>
            [
              page.items.length === 0 ? "no posts yet" : postsTable(page.items),
              page.next === null ? "" : dim(`more: --cursor ${page.next}`),
            ]
              .filter((l) => l !== "")
              .join("\n"),
          );
        },
      ),
    );

  program
    .command("thread")
    .description("a post and its replies, verified")
    .argument("<id>", "the post id")
    .option("--limit <n>", "how many replies", (v) => Number.parseInt(v, 10), 50)
    .action(
      action<[string], { limit: number }>(async (ctx, o, id) => {
        const reader = await ctx.reader();
        const t = await reader.thread(id, { limit: o.limit });
        ctx.out.result(t, () =>
          [
            `${short(t.root.wallet)} · ${relativeTime(t.root.receivedAt)}\n  ${textOf(t.root)}\n  ${dim(t.root.id)}`,
            ...t.replies.items.map(
              (r) =>
                `  └ ${short(r.wallet)} · ${relativeTime(r.receivedAt)}: ${textOf(r)}  ${dim(r.id)}`,
            ),
          ].join("\n"),
        );
      }),
    );

  program
    .command("flush")
    .description("send the actions queued while the node was unreachable, in order")
    .action(
      action(async (ctx) => {
        await ctx.unlock();
        const { social, manager } = await ctx.clients();
        const sent = await social.flush();
        const left = (await manager.resume())?.record.outbox.length ?? 0;
        if (left > 0) status.exit = EXIT.UNREACHABLE;
        const held = social.heldBy;
        ctx.out.result(
          {
            sent,
            queued: left,
            ...(left > 0 && held !== undefined
              ? {
                  reason: {
                    code: held instanceof ProtocolError ? held.code : null,
                    name: held.name,
                    message: held.message,
                  },
                }
              : {}),
          },
          () =>
            left > 0
              ? `${yellow(`${left} still queued`)}; sent ${sent}\n  ${whyQueued(ctx, held)}`
              : `sent ${sent}; nothing queued`,
        );
      }),
    );
}
