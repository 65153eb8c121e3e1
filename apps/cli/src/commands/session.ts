import type { ServedSession, SessionPolicy } from "@sesame/client";
import { type GrantId, isScope, SCOPES, type Scope, type ScopeLimit } from "@sesame/protocol";
import { type Command, InvalidArgumentError, Option } from "commander";
import { CliError, dim, EXIT, green, relativeTime, short, table, yellow } from "../output.js";
import { confirm } from "../prompt.js";
import { action } from "../run.js";

export const DEFAULT_SCOPES: readonly Scope[] = [
  "post",
  "reply",
  "react",
  "follow",
  "profile",
  "dm",
];

/** Limits a session gets unless told otherwise: generous for a person, small for a thief. */
export const DEFAULT_LIMITS: Readonly<Record<Scope, ScopeLimit>> = Object.freeze({
  post: { total: 1000, perHour: 200 },
  reply: { total: 1000, perHour: 200 },
  react: { total: 5000, perHour: 1000 },
  follow: { total: 500, perHour: 100 },
  profile: { total: 50, perHour: 10 },
  dm: { total: 1000, perHour: 200 },
  tip: { total: 100, perHour: 20 },
});

/** "30m", "24h", "7d", "90s" or milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new InvalidArgumentError("use e.g. 30m, 24h, 7d");
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "ms") as "ms"];
  const ms = Math.round(Number(m[1]) * unit);
  if (ms <= 0) throw new InvalidArgumentError("must be positive");
  return ms;
}

export function parseScopes(text: string): Scope[] {
  const scopes = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const s of scopes) {
    if (!isScope(s))
      throw new InvalidArgumentError(`unknown scope ${s}; scopes: ${SCOPES.join(", ")}`);
  }
  if (scopes.length === 0) throw new InvalidArgumentError("name at least one scope");
  // A tip session is funded on chain in its START transaction; the CLI starts message-signed
  // sessions only (funded sessions start from the web app or the SDK's chainFunding).
  if (scopes.includes("tip"))
    throw new InvalidArgumentError(
      "the CLI cannot start a funded tip session; start it from the web app or the SDK (chainFunding)",
    );
  return scopes as Scope[];
}

/** Collects repeated `scope=N` (or `scope=none`) options. */
function limitOption(value: string, previous: Record<string, number | null> = {}) {
  const m = /^([a-z]+)=(\d+|none)$/.exec(value.trim());
  if (m === null || !isScope(m[1])) {
    throw new InvalidArgumentError(
      `use scope=N or scope=none, with a scope of ${SCOPES.join(", ")}`,
    );
  }
  const n = m[2] === "none" ? null : Number(m[2]);
  if (n !== null && n < 1) throw new InvalidArgumentError("a limit is at least 1 (or none)");
  return { ...previous, [m[1]]: n };
}

export function buildPolicy(options: {
  scopes?: Scope[];
  cap?: Record<string, number | null>;
  rate?: Record<string, number | null>;
  duration?: number;
  statement?: string;
}): SessionPolicy {
  const scopes = options.scopes ?? [...DEFAULT_SCOPES];
  for (const s of [...Object.keys(options.cap ?? {}), ...Object.keys(options.rate ?? {})]) {
    if (!scopes.includes(s as Scope)) {
      throw new CliError(
        EXIT.USAGE,
        `a limit for ${s}, which is not among --scopes ${scopes.join(",")}`,
      );
    }
  }
  const limits = Object.fromEntries(
    scopes.map((s) => [
      s,
      {
        total: options.cap?.[s] !== undefined ? options.cap[s] : DEFAULT_LIMITS[s].total,
        perHour: options.rate?.[s] !== undefined ? options.rate[s] : DEFAULT_LIMITS[s].perHour,
      },
    ]),
  ) as Partial<Record<Scope, ScopeLimit>>;
  return {
    scopes,
    limits,
    durationMs: options.duration ?? 24 * 3_600_000,
    ...(options.statement === undefined ? {} : { statement: options.statement }),
  };
}

function usage(s: ServedSession): string {
  const limits = s.limits as Partial<Record<string, ScopeLimit>>;
  const used = s.scopes.filter((scope) => (s.used[scope] ?? 0) > 0);
  if (used.length === 0) return "none yet";
  return used
    .map((scope) => {
      const total = limits[scope]?.total;
      return `${scope} ${s.used[scope] ?? 0}${total === null || total === undefined ? "" : `/${total}`}`;
    })
    .join(", ");
}

function parseWhen(text: string): number {
  if (text === "now") return Date.now();
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError("use an ISO time, milliseconds, or now");
  return ms;
}

export function sessionCommands(program: Command): void {
  const session = program
    .command("session")
    .description(
      "start, list and revoke sessions: one wallet signature each, then no more prompts",
    );

  session
    .command("start")
    .description("show the exact grant text, ask to confirm, then sign it once with the wallet")
    .option("--scopes <list>", `comma-separated scopes (${SCOPES.join(",")})`, parseScopes)
    .option(
      "--cap <scope=N>",
      "at most N actions of a scope in total (repeatable; N or none)",
      limitOption,
    )
    .option(
      "--rate <scope=N>",
      "at most N actions of a scope per hour (repeatable; N or none)",
      limitOption,
    )
    .option("--duration <time>", "how long the session lasts (30m, 24h, 7d)", parseDuration)
    .option("--device <label>", "how this device appears in session lists")
    .option("--statement <text>", "the sentence the wallet shows above the permissions")
    .option("--network <name>", "the node network (default: the node's, from /health)")
    .option("--chain <id>", "the chain id (default: the node's, from /health)")
    .option("-y, --yes", "sign without asking (after reading the text elsewhere)")
    .addHelpText(
      "after",
      `\nDefaults: scopes ${DEFAULT_SCOPES.join(",")}; 24h; limits ${Object.entries(DEFAULT_LIMITS)
        .map(([s, l]) => `${s} ${l.total} total ${l.perHour}/h`)
        .join(
          ", ",
        )}.\nExample: sesame session start --scopes post,react --cap post=100 --rate post=20 --duration 2h`,
    )
    .action(
      action<
        [],
        {
          scopes?: Scope[];
          cap?: Record<string, number | null>;
          rate?: Record<string, number | null>;
          duration?: number;
          device?: string;
          statement?: string;
          network?: string;
          chain?: string;
          yes?: boolean;
        }
      >(async (ctx, o) => {
        const policy = buildPolicy(o);
        await ctx.unlock();
        const fromNode =
          o.network === undefined || o.chain === undefined ? await ctx.network() : undefined;
        const network = {
          chain: o.chain ?? fromNode?.chain ?? "solana:localnet",
          network: o.network ?? fromNode?.network ?? "sesame-local",
        };
        const { manager } = await ctx.clients({
          ...(o.device === undefined ? {} : { device: o.device }),
          network,
          signer: true,
        });
        const prepared = await manager.prepare(policy);
        let session: Awaited<ReturnType<typeof manager.confirm>>;
        try {
          if (!ctx.out.json) {
            process.stdout.write(
              `Your wallet will sign exactly this text:\n\n${prepared.text.replace(/^/gm, "  │ ")}\n\n`,
            );
          }
          if (o.yes !== true) {
            if (process.stdin.isTTY !== true) {
              throw new CliError(
                EXIT.DECLINED,
                "not signed: there is no terminal to confirm the grant in",
                "read the text, then run again with --yes",
              );
            }
            if (!(await confirm("Sign it with your wallet? [y/N] "))) {
              throw new CliError(EXIT.DECLINED, "not signed: no session was started");
            }
          }
          session = await manager.confirm(prepared);
        } catch (e) {
          await manager.discard(prepared).catch(() => {});
          throw e;
        }
        ctx.out.result(
          {
            grantId: session.grantId,
            wallet: session.grant.wallet,
            device: session.grant.device,
            scopes: session.grant.scopes,
            limits: session.grant.limits,
            expirationTime: session.grant.expirationTime,
            text: prepared.text,
          },
          () =>
            `${green("session started")} ${session.grantId}\n  expires ${relativeTime(session.grant.expirationTime)} (${new Date(session.grant.expirationTime).toISOString()}); keys in ${ctx.keystorePath}`,
        );
      }),
    );

  session
    .command("renew")
    .description(
      "replace this device's session before it expires: same permissions and limits, one wallet signature",
    )
    .option("-y, --yes", "sign without asking (after reading the text elsewhere)")
    .addHelpText(
      "after",
      "\nThe replaced session's keys stay in the keystore until it expires or is revoked, so\ndirect messages sent to it can still be read (`sesame dm inbox`); then they are destroyed.",
    )
    .action(
      action<[], { yes?: boolean }>(async (ctx, o) => {
        await ctx.unlock();
        const { manager } = await ctx.clients({ signer: true });
        const current = await manager.resume();
        if (current === undefined) {
          throw new CliError(
            EXIT.REFUSED,
            "no live session on this device to renew",
            "start one with `sesame session start`",
          );
        }
        const network = { chain: current.grant.chain, network: current.grant.network };
        const { manager: same } = await ctx.clients({
          device: current.grant.device,
          network,
          signer: true,
        });
        const session = await same.renew(async (text) => {
          if (!ctx.out.json) {
            process.stdout.write(
              `Your wallet will sign exactly this text:\n\n${text.replace(/^/gm, "  │ ")}\n\n`,
            );
          }
          if (o.yes === true) return;
          if (process.stdin.isTTY !== true) {
            throw new CliError(
              EXIT.DECLINED,
              "not signed: there is no terminal to confirm the grant in",
              "read the text, then run again with --yes",
            );
          }
          if (!(await confirm("Sign it with your wallet? [y/N] "))) {
            throw new CliError(EXIT.DECLINED, "not signed: the session was not renewed");
          }
        });
        ctx.out.result(
          {
            grantId: session.grantId,
            replaced: current.grantId,
            wallet: session.grant.wallet,
            scopes: session.grant.scopes,
            limits: session.grant.limits,
            expirationTime: session.grant.expirationTime,
            replacedExpirationTime: current.grant.expirationTime,
          },
          () =>
            `${green("session renewed")} ${session.grantId}\n  expires ${relativeTime(session.grant.expirationTime)}; the replaced session ${short(current.grantId, 6)} stays readable for DMs until it ends ${relativeTime(current.grant.expirationTime)}`,
        );
      }),
    );

  session
    .command("list")
    .description("every session of the wallet, across apps and devices, with usage")
    .option("--all", "include revoked and expired sessions", false)
    .action(
      action<[], { all: boolean }>(async (ctx, o) => {
        const wallet = await ctx.address();
        const record = await ctx.store.getRecord(`${ctx.appDomain}|${wallet}`);
        const mine = record?.revokedAt ? undefined : record?.grantId;
        // Each grant (and a revoked one's revocation) verified against the wallet.
        const items = (await (await ctx.reader()).sessions(wallet))
          .map(({ verified: _verified, ...s }) => s)
          .filter((s) => o.all || s.status === "active" || s.status === "pending")
          .sort((a, b) => b.issuedAt - a.issuedAt);
        ctx.out.result(
          { wallet, items: items.map((s) => ({ ...s, thisDevice: s.grant === mine })) },
          () =>
            items.length === 0
              ? `no live sessions for ${wallet}${o.all ? "" : dim(" (--all shows ended ones)")}`
              : table(
                  ["", "GRANT", "APP", "DEVICE", "STATUS", "USED", "EXPIRES"],
                  items.map((s) => [
                    s.grant === mine ? "*" : "",
                    short(s.grant, 6),
                    s.app,
                    s.device,
                    s.status === "active" ? green(s.status) : yellow(s.status),
                    usage(s),
                    s.status === "revoked" && s.revokedAt !== null
                      ? `revoked ${relativeTime(s.revokedAt)}`
                      : relativeTime(s.expirationTime),
                  ]),
                ) + (mine === undefined ? "" : `\n${dim("* this device")}`),
        );
      }),
    );

  const compromised = new Option(
    "--compromised-since <time>",
    "the key was stolen: hide what nodes received from then on (ISO time, ms, or now)",
  ).argParser(parseWhen);

  session
    .command("revoke")
    .description("revoke one session (default: this device's) with one wallet signature")
    .argument("[grant]", "the grant id of the session to revoke (see `sesame session list`)")
    .addOption(compromised)
    .action(
      action<[string | undefined], { compromisedSince?: number }>(async (ctx, o, grant) => {
        const { manager } = await ctx.clients({ signer: true });
        const r = await manager.revoke(grant as GrantId | undefined, o.compromisedSince ?? null);
        ctx.out.result(r, () =>
          r.revoked.length === 0
            ? "nothing to revoke: already revoked"
            : `${green("revoked")} ${r.revoked.join(", ")}`,
        );
      }),
    );

  session
    .command("revoke-all")
    .description("revoke every session of the wallet, on every app and device (one signature)")
    .addOption(compromised)
    .action(
      action<[], { compromisedSince?: number }>(async (ctx, o) => {
        const { manager } = await ctx.clients({ signer: true });
        const r = await manager.revokeAll(o.compromisedSince ?? null);
        ctx.out.result(
          r,
          () =>
            `${green("revoked")} ${r.revoked.length} session(s)${r.revoked.length ? `: ${r.revoked.join(", ")}` : ""}`,
        );
      }),
    );
}
