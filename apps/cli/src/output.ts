/** How the CLI speaks: human text by default, one JSON document with --json. */
import { SesameClientError } from "@sesame/client";
import { ErrorCode, errorName, isErrorCode, ProtocolError } from "@sesame/protocol";

/** Exit codes a script can rely on. */
export const EXIT = Object.freeze({
  OK: 0,
  /** The node (or the protocol's own checks) refused: the error's code says why. */
  REFUSED: 1,
  /** Bad command line. */
  USAGE: 2,
  /**
   * Not delivered now, kept: the node is unreachable or busy, or held the action back as
   * over the hourly rate (4003). The signed action is queued and goes out later.
   */
  UNREACHABLE: 3,
  /** A secret is missing or wrong: passphrase, keystore or wallet file. */
  SECRET: 4,
  /** The person did not confirm (or could not be asked). */
  DECLINED: 5,
  /** A bug: please report it. */
  INTERNAL: 70,
});
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports itself, with the exit code and a hint. */
export class CliError extends Error {
  constructor(
    readonly exit: ExitCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

const color = () =>
  process.stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.CI !== "true";
const paint = (code: number) => (s: string) => (color() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint(1);
export const dim = paint(2);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);

/** "just now", "42s ago", "3m ago", "5h ago", "2d ago"; "in 23h" for the future. */
export function relativeTime(ms: number, now = Date.now()): string {
  const delta = now - ms;
  const abs = Math.abs(delta);
  if (abs < 5_000) return "just now";
  const units: [number, string][] = [
    [86_400_000 * 365, "y"],
    [86_400_000 * 30, "mo"],
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1_000, "s"],
  ];
  const [size, unit] = units.find(([size]) => abs >= size) ?? [1_000, "s"];
  // Past: whole units elapsed ("59m ago"); future: the nearest unit, so a 24 h session
  // started a moment ago says "in 24h", not "in 23h".
  const n = delta >= 0 ? Math.floor(abs / size) : Math.round(abs / size);
  return delta >= 0 ? `${n}${unit} ago` : `in ${n}${unit}`;
}

/** `5D5t…rtxo` */
export function short(id: string, keep = 4): string {
  return id.length <= keep * 2 + 1 ? id : `${id.slice(0, keep)}…${id.slice(-keep)}`;
}

export function truncate(text: string, width: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(0, width - 1))}…`;
}

/** Visible width, ignoring colour codes. */
function width(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colour codes
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/** A plain table: a header row, then rows, columns padded to fit. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - width(c))))
      .join("  ")
      .trimEnd();
  return [bold(line(header)), ...rows.map(line)].join("\n");
}

export interface Output {
  readonly json: boolean;
  /** The command's result: `human()` in text mode, `data` as JSON with --json. */
  result(data: unknown, human: () => string): void;
  /** Progress and notes for a person: stderr, never in --json output. */
  note(text: string): void;
}

export function output(json: boolean): Output {
  return {
    json,
    result(data, human) {
      process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
    },
    note(text) {
      if (!json) process.stderr.write(`${text}\n`);
    },
  };
}

/** What a person can do about each refusal. */
function hintFor(e: ProtocolError): string {
  const c = e.context as Record<string, unknown>;
  switch (e.code) {
    case ErrorCode.SESSION_REVOKED:
    case ErrorCode.GRANT_REVOKED:
      return "this session was revoked; start a new one with `sesame session start`";
    case ErrorCode.SESSION_EXPIRED:
    case ErrorCode.GRANT_EXPIRED:
      return "this session has expired; `sesame session renew` starts a new one with the same permissions (one signature), or `sesame session start`";
    case ErrorCode.OVER_CAP:
      return `the session's ${String(c.scope)} cap is used up; start a session with a higher \`--cap ${String(c.scope)}=N\``;
    case ErrorCode.OVER_RATE:
      return `wait a while, or start a session with a higher \`--rate ${String(c.scope)}=N\``;
    case ErrorCode.SCOPE_NOT_GRANTED:
      return `start a session that includes it: \`sesame session start --scopes ...,${String(c.scope)}\``;
    case ErrorCode.EQUIVOCATION:
      return "two different actions used the same number; the session is revoked everywhere. Start a new one";
    case ErrorCode.NOT_FOUND:
      return String(c.what ?? "").includes("session")
        ? "start a session first: `sesame session start`"
        : "check the id or address";
    case ErrorCode.UNAVAILABLE:
      return "is the node running? Start one with `sesame node start`, or pass --node URL";
    case ErrorCode.GRANT_NETWORK_MISMATCH:
    case ErrorCode.GRANT_CHAIN_MISMATCH:
      return "the node belongs to another network or chain; pass --network / --chain to match it";
    case ErrorCode.TOO_MANY_REQUESTS:
      return "the node is busy; try again shortly";
    case ErrorCode.REQUEST_TIMEOUT:
    case ErrorCode.WRITE_OUTCOME_UNKNOWN:
      return "the node did not answer in time; `sesame flush` sends the same signed action again (safe: it is stored at most once)";
    case ErrorCode.UNAUTHORIZED_REQUEST:
      return String(c.reason ?? "").includes("own host")
        ? "the node takes peer changes and `sync` only from its own host: run the command there (--node http://127.0.0.1:PORT)"
        : "reading direct messages needs a live session with the dm scope";
    case ErrorCode.INVALID_FIELD:
      return String(c.reason ?? "").includes("configured")
        ? "this peer comes from the node's configuration (SESAME_PEERS or --peer): restart the node without it"
        : `check ${String(c.field)}: ${String(c.reason)}`;
    default:
      return `see docs/PROTOCOL.md, error ${e.code}`;
  }
}

export interface Failure {
  readonly exit: ExitCode;
  readonly body: {
    readonly code: number | null;
    readonly name: string;
    readonly message: string;
    readonly hint: string | null;
    readonly context?: unknown;
  };
}

function clientHint(e: SesameClientError, status: number | undefined): string {
  switch (e.reason) {
    case "WALLET_REQUIRED":
    case "WRONG_WALLET":
      return "pass the wallet's keypair file with --keypair (or SESAME_KEYPAIR)";
    case "NOTHING_TO_RENEW":
      return "start a session with `sesame session start`";
    case "KEYSTORE_PASSPHRASE":
      return "check SESAME_PASSPHRASE (or what you typed), and --keystore";
    case "FORGED_READ":
      return "the node (or something between you and it) served data that does not verify: use another node with --node";
    default:
      return status === 413
        ? "a proxy in front of the node limits request size; send smaller actions or raise its limit"
        : "a proxy or gateway in front of the node answered; check --node, or try again shortly";
  }
}

/** Any error as what the CLI prints and the code it exits with. */
export function describeError(e: unknown): Failure {
  if (e instanceof ProtocolError || (isProtocolLike(e) && isErrorCode(e.code))) {
    const pe = e as ProtocolError;
    return {
      exit: pe.code === ErrorCode.UNAVAILABLE ? EXIT.UNREACHABLE : EXIT.REFUSED,
      body: {
        code: pe.code,
        name: errorName(pe.code),
        message: pe.message,
        hint: hintFor(pe),
        context: pe.context,
      },
    };
  }
  if (e instanceof SesameClientError) {
    const ce = e as SesameClientError;
    const http =
      ce.reason === "HTTP_STATUS" ? (ce as SesameClientError<"HTTP_STATUS">).context : null;
    const secret =
      ce.reason === "WALLET_REQUIRED" ||
      ce.reason === "WRONG_WALLET" ||
      ce.reason === "KEYSTORE_PASSPHRASE";
    return {
      exit: secret ? EXIT.SECRET : http?.transient === true ? EXIT.UNREACHABLE : EXIT.REFUSED,
      body: {
        code: null,
        name: ce.reason,
        message: ce.message,
        hint: clientHint(ce, http?.status),
        context: ce.context,
      },
    };
  }
  if (e instanceof CliError) {
    return {
      exit: e.exit,
      body: { code: null, name: e.name, message: e.message, hint: e.hint ?? null },
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return {
    exit: EXIT.INTERNAL,
    body: { code: null, name: e instanceof Error ? e.name : "Error", message, hint: null },
  };
}

function isProtocolLike(e: unknown): e is { code: unknown } {
  return typeof e === "object" && e !== null && "code" in e && "context" in e;
}

export function printFailure(out: Output, f: Failure): void {
  if (out.json) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: f.body }, null, 2)}\n`);
    return;
  }
  const head =
    f.body.code === null
      ? /^[A-Z][A-Z_]+$/.test(f.body.name)
        ? `${red(`error ${f.body.name}`)}: ${f.body.message}`
        : `${red("error")}: ${f.body.message}`
      : `${red(`error ${f.body.code} ${f.body.name}`)}: ${f.body.message}`;
  process.stderr.write(
    `${head}\n${f.body.hint === null ? "" : `${dim("hint")}: ${f.body.hint}\n`}`,
  );
}
