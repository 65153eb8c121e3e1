import { isErrorCode, ProtocolError } from "@sesame/protocol";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { Context } from "../context.js";
import { CliError, dim, EXIT, green, relativeTime, table, yellow } from "../output.js";
import { action, status } from "../run.js";

/** One peer as `GET /v1/peers` reports it. */
interface PeerStatus {
  readonly url: string;
  readonly cursor: number;
  readonly head: number;
  readonly lag: number;
  readonly pulled: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly refused: number;
  readonly refusedByCode: Record<string, number>;
  readonly deferred: number;
  readonly failures: number;
  readonly backoffUntil: number;
  readonly lastPullAt: number | null;
  readonly lastOkAt: number | null;
  readonly lastError: string | null;
  readonly rounds?: number;
  readonly configured?: boolean;
}

interface PeersReply {
  readonly intervalMs: number | null;
  readonly peers: PeerStatus[];
}

async function call(
  ctx: Context,
  method: string,
  path: string,
  body: unknown = {},
): Promise<PeersReply> {
  let res: Response;
  try {
    res = await fetch(`${ctx.nodeUrl}${path}`, {
      method,
      ...(method === "GET"
        ? {}
        : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
  } catch (e) {
    throw new CliError(
      EXIT.UNREACHABLE,
      `the node at ${ctx.nodeUrl} cannot be reached (${(e as Error).message})`,
      "is the node running? Start one with `sesame node start`, or pass --node URL",
    );
  }
  if (res.status !== 200 && res.status !== 201) throw await refusal(res, `${method} ${path}`);
  return (await res.json()) as PeersReply;
}

/** A non-2xx answer as an error the CLI prints with its code and a hint. */
async function refusal(res: Response, what: string): Promise<Error> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { code?: unknown; context?: unknown };
    if (isErrorCode(body.code) && typeof body.context === "object" && body.context !== null)
      return new ProtocolError(body.code, body.context as never);
  } catch {
    // Not the node's JSON (a proxy's page): said as it is below.
  }
  return new CliError(
    EXIT.REFUSED,
    `${what}: HTTP ${res.status} ${text.slice(0, 200)}`,
    "is --node the Sesame node itself (not a proxy or another service)?",
  );
}

function codes(p: PeerStatus): string {
  const entries = Object.entries(p.refusedByCode);
  return entries.length === 0 ? "-" : entries.map(([c, n]) => `${c}×${n}`).join(" ");
}

function state(p: PeerStatus, now: number): string {
  if (p.backoffUntil > now)
    return yellow(`backing off ${Math.ceil((p.backoffUntil - now) / 1000)}s`);
  if (p.lastPullAt === null) return dim("not pulled yet");
  if (p.lastError !== null) return yellow(p.lastError);
  return p.lag === 0 ? green("in sync") : `${p.lag} behind`;
}

function peersTable(reply: PeersReply): string {
  if (reply.peers.length === 0)
    return "this node has no peers (add one with `sesame peers add URL`, or start it with SESAME_PEERS=url,url or `sesame node start --peer url`)";
  const now = Date.now();
  return table(
    ["peer", "cursor", "head", "accepted", "duplicates", "refused by code", "last pull", "state"],
    reply.peers.map((p) => [
      p.configured === false ? `${p.url} ${dim("(added)")}` : p.url,
      String(p.cursor),
      String(p.head),
      String(p.accepted),
      String(p.duplicates),
      codes(p),
      p.lastPullAt === null ? "-" : relativeTime(p.lastPullAt, now),
      state(p, now),
    ]),
  );
}

export function syncCommands(program: Command): void {
  const peers = program
    .command("peers")
    .description(
      "the peers the node pulls: cursor, head, counts, refusals by error code, backoff; add or remove one",
    )
    .addHelpText(
      "after",
      "\nPeers set when the node starts (SESAME_PEERS, or `sesame node start --peer URL`) stay until\nit restarts without them; `peers add` and `peers remove` change the list of a running node and\nare kept across its restarts. The node answers those two only on its own host (loopback).",
    )
    .action(
      action<[], Record<string, never>>(async (ctx) => {
        const reply = await call(ctx, "GET", "/v1/peers");
        ctx.out.result(reply, () => peersTable(reply));
      }),
    );
  peers
    .command("add <url>")
    .description("make the node pull this peer's log from now on (kept across restarts)")
    .action(
      action<[string], Record<string, never>>(async (ctx, _o, url) => {
        const reply = await call(ctx, "POST", "/v1/peers", { url });
        ctx.out.result(reply, () => `${peersTable(reply)}\n${green(`pulling ${url}`)}`);
      }),
    );
  peers
    .command("remove <url>")
    .description("stop pulling a peer added with `peers add` (a configured one stays)")
    .action(
      action<[string], Record<string, never>>(async (ctx, _o, url) => {
        const reply = await call(ctx, "DELETE", "/v1/peers", { url });
        ctx.out.result(reply, () => `${peersTable(reply)}\n${green(`no longer pulling ${url}`)}`);
      }),
    );

  program
    .command("sync")
    .description("make the node pull every peer now, and show its catch-up until it is in sync")
    .option(
      "--timeout <seconds>",
      "give up waiting after this long",
      (v) => Number.parseFloat(v),
      600,
    )
    .addHelpText(
      "after",
      "\nExit codes: 0 in sync with every peer; 3 the node or a peer could not be reached;\n1 still behind when the timeout passed.",
    )
    .action(
      action<[], { timeout: number }>(async (ctx, o) => {
        const asked = Date.now();
        const first = await call(ctx, "GET", "/v1/peers");
        if (first.peers.length === 0) {
          ctx.out.result(first, () => peersTable(first));
          return;
        }
        const start = new Map(first.peers.map((p) => [p.url, p.cursor]));
        await call(ctx, "POST", "/v1/peers/sync?wait=false");
        const show = !ctx.out.json && process.stderr.isTTY === true;
        const bar = show
          ? new cliProgress.SingleBar(
              {
                format: `catching up  {bar} {value}/{total} log entries  {percentage}%  {rate}/s  eta {eta_formatted}`,
                stream: process.stderr,
                hideCursor: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        // Without a terminal (a log, a pipe): a plain line now and then instead of a bar.
        const lines = !ctx.out.json && !show;
        let lastLine = "";
        let lastLineAt = 0;
        const line = (text: string, force = false) => {
          if (!lines || text === lastLine || (!force && Date.now() - lastLineAt < 1000)) return;
          process.stderr.write(`${text}\n`);
          lastLine = text;
          lastLineAt = Date.now();
        };
        const progress = (r: PeersReply) => {
          let done = 0;
          let total = 0;
          for (const p of r.peers) {
            const from = start.get(p.url) ?? 0;
            done += Math.max(0, p.cursor - from);
            total += Math.max(0, Math.max(p.head, p.cursor) - from);
          }
          return { done, total };
        };
        const begin = progress(first);
        bar?.start(Math.max(1, begin.total), 0, { rate: "0" });
        line(
          `sync: pulling ${first.peers.length} peer(s), ${begin.total} log entries behind`,
          true,
        );
        let reply = first;
        const deadline = asked + o.timeout * 1000;
        for (;;) {
          reply = await call(ctx, "GET", "/v1/peers");
          const { done, total } = progress(reply);
          bar?.setTotal(Math.max(1, total));
          const rate = (done / Math.max(0.001, (Date.now() - asked) / 1000)).toFixed(0);
          bar?.update(done, { rate });
          line(`sync: ${done}/${total} log entries applied, ${rate}/s`);
          // In sync: every peer pulled since we asked, and nothing left behind its head.
          const fresh = reply.peers.every((p) => (p.lastPullAt ?? 0) >= asked);
          if (fresh && reply.peers.every((p) => p.lag === 0 || p.lastError !== null)) break;
          if (Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        bar?.stop();
        const end = progress(reply);
        line(
          `sync: ${end.done}/${end.total} log entries applied in ${Date.now() - asked} ms`,
          true,
        );
        const behind = reply.peers.filter((p) => p.lag > 0 || p.lastError !== null);
        if (behind.some((p) => p.lastError?.startsWith("8001") === true))
          status.exit = EXIT.UNREACHABLE;
        else if (behind.length > 0) status.exit = EXIT.REFUSED;
        const summary = progress(reply);
        ctx.out.result(
          { inSync: behind.length === 0, applied: summary.done, ...reply },
          () =>
            `${peersTable(reply)}\n${
              behind.length === 0
                ? green(
                    `in sync with ${reply.peers.length} peer(s); ${summary.done} log entries pulled`,
                  )
                : yellow(`${behind.length} peer(s) not in sync`)
            }`,
        );
      }),
    );
}
