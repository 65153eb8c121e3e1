import { sha256 } from "@noble/hashes/sha2.js";
import { isSmallOrderX25519 } from "./crypto/strict.js";
import { fromBase58, toBase58, utf8, utf8Length } from "./encoding.js";
import { describeValue, ErrorCode, ProtocolError } from "./errors.js";
import {
  assertEncryptionPublicKey,
  assertMintAddress,
  assertSessionPublicKey,
  assertWalletAddress,
  type EncryptionPublicKey,
  type GrantId,
  type MintAddress,
  type SessionPublicKey,
  type WalletAddress,
} from "./ids.js";

/** What a session may do. The order here is the canonical order in grant text. */
export const SCOPES = ["post", "reply", "react", "follow", "profile", "dm", "tip"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

/** `null` means "no limit". */
export interface ScopeLimit {
  /** Lifetime cap: action ordinals of this scope run 1..total. */
  readonly total: number | null;
  /** At most this many per hour, counted by each node on receipt. */
  readonly perHour: number | null;
}

export interface TipBudget {
  readonly mint: MintAddress;
  /** Base units, as a decimal string (a u64). */
  readonly amount: string;
  readonly decimals: number;
}

export const GRANT_VERSION = 1;

export interface Grant {
  readonly version: typeof GRANT_VERSION;
  /** The app's origin host (and port), e.g. `app.example` or `localhost:5173`. */
  readonly domain: string;
  readonly wallet: WalletAddress;
  readonly statement: string;
  readonly uri: string;
  /** CAIP-2 style chain id, e.g. `solana:localnet` or `solana:<genesis hash prefix>`. */
  readonly chain: string;
  /** The Sesame node network this grant is valid on, e.g. `sesame-mainnet`. */
  readonly network: string;
  /** A label the person recognises on the Sessions page, e.g. `Chromium on Linux`. */
  readonly device: string;
  readonly sessionKey: SessionPublicKey;
  readonly encryptionKey: EncryptionPublicKey;
  /** Granted scopes in canonical order, each once. */
  readonly scopes: readonly Scope[];
  /** One entry per granted scope. */
  readonly limits: Readonly<Partial<Record<Scope, ScopeLimit>>>;
  /** Present exactly when the `tip` scope is granted. */
  readonly tipBudget: TipBudget | null;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expirationTime: number;
  /** base58, at least 16 bytes (128 bits). */
  readonly nonce: string;
}

export const GRANT_LIMITS = Object.freeze({
  maxTextBytes: 4096,
  maxDomainBytes: 253,
  maxStatementBytes: 280,
  maxUriBytes: 512,
  maxDeviceBytes: 64,
  maxNetworkBytes: 63,
  minNonceBytes: 16,
  maxNonceBytes: 64,
  maxTotal: 1_000_000,
  maxPerHour: 10_000,
  maxDecimals: 18,
  /** Default cap on expirationTime - notBefore: 30 days. */
  defaultMaxLifetimeMs: 30 * 24 * 60 * 60 * 1000,
  /** Latest instant `toISOString` writes with a four-digit year. */
  maxTimestamp: 253_402_300_799_999,
});

const U64_MAX = 18_446_744_073_709_551_615n;
const DOMAIN_RE =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$/;
const URI_RE = /^[a-z][a-z0-9+.-]*:[!-~]+$/;
const CHAIN_RE = /^solana:[A-Za-z0-9]{1,32}$/;
const NETWORK_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const AMOUNT_RE = /^[1-9][0-9]{0,19}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function invalid(field: string, reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.INVALID_FIELD, { field, reason });
}

/** A single line of printable text without surrounding spaces. */
function checkLine(field: string, value: unknown, maxBytes: number): string {
  if (typeof value !== "string" || value.length === 0)
    throw invalid(field, "must be a non-empty string");
  const bytes = utf8Length(value);
  if (bytes > maxBytes) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, { field, max: maxBytes, actual: bytes });
  }
  // Control characters (including line breaks) would let one field forge another line.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) {
    throw invalid(field, "must not contain control characters or line breaks");
  }
  // Bidirectional overrides and invisible characters could make the text a wallet shows
  // read differently from what it means.
  if (/[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/.test(value)) {
    throw invalid(field, "must not contain bidirectional controls or invisible characters");
  }
  if (value.trim() !== value) throw invalid(field, "must not start or end with whitespace");
  // A lone surrogate has no UTF-8 form: the signed bytes would hold U+FFFD, not the text.
  if (!value.isWellFormed()) throw invalid(field, "must be well-formed Unicode");
  return value;
}

function checkTimestamp(field: string, value: unknown): number {
  if (
    !Number.isSafeInteger(value) ||
    (value as number) < 0 ||
    (value as number) > GRANT_LIMITS.maxTimestamp
  ) {
    throw invalid(field, "must be an integer of milliseconds since 1970 within year 9999");
  }
  return value as number;
}

function checkCount(field: string, value: unknown, max: number): number | null {
  if (value === null) return null;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max) {
    throw new ProtocolError(ErrorCode.GRANT_LIMITS_INVALID, {
      reason: `${field} must be null or an integer from 1 to ${max}`,
    });
  }
  return value as number;
}

/**
 * Checks every field of a grant (shape, sizes, encodings, limits) and returns a frozen,
 * normalised copy. Throws a ProtocolError on the first problem.
 */
export function validateGrant(input: unknown): Grant {
  if (typeof input !== "object" || input === null) throw invalid("grant", "must be an object");
  const g = input as Record<string, unknown>;
  if (g.version !== GRANT_VERSION) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, { version: describeValue(g.version) });
  }
  const domain = checkLine("domain", g.domain, GRANT_LIMITS.maxDomainBytes);
  if (!DOMAIN_RE.test(domain))
    throw invalid("domain", "must be a lower-case host name with an optional port");
  assertWalletAddress(g.wallet, "wallet");
  const statement = checkLine("statement", g.statement, GRANT_LIMITS.maxStatementBytes);
  const uri = checkLine("uri", g.uri, GRANT_LIMITS.maxUriBytes);
  if (!URI_RE.test(uri)) throw invalid("uri", "must be an absolute URI without spaces");
  const chain = checkLine("chain", g.chain, 40);
  if (!CHAIN_RE.test(chain)) throw invalid("chain", "must look like solana:<reference>");
  const network = checkLine("network", g.network, GRANT_LIMITS.maxNetworkBytes);
  if (!NETWORK_RE.test(network))
    throw invalid("network", "must be lower-case letters, digits and dashes");
  const device = checkLine("device", g.device, GRANT_LIMITS.maxDeviceBytes);
  assertSessionPublicKey(g.sessionKey, "sessionKey");
  assertEncryptionPublicKey(g.encryptionKey, "encryptionKey");
  // A DM encrypted to a small-order key has a shared secret anyone can guess.
  if (isSmallOrderX25519(fromBase58(g.encryptionKey, "encryptionKey")))
    throw new ProtocolError(ErrorCode.SMALL_ORDER_PUBLIC_KEY, { publicKey: g.encryptionKey });

  if (!Array.isArray(g.scopes) || g.scopes.length === 0)
    throw invalid("scopes", "must list at least one scope");
  for (const s of g.scopes)
    if (!isScope(s)) throw invalid("scopes", `unknown scope ${describeValue(s, 32)}`);
  const scopes = SCOPES.filter((s) => (g.scopes as unknown[]).includes(s));
  if (
    scopes.length !== g.scopes.length ||
    scopes.some((s, i) => s !== (g.scopes as unknown[])[i])
  ) {
    throw invalid("scopes", `must be distinct and in the order ${SCOPES.join(", ")}`);
  }

  if (typeof g.limits !== "object" || g.limits === null)
    throw invalid("limits", "must be an object");
  const rawLimits = g.limits as Record<string, unknown>;
  for (const key of Object.keys(rawLimits)) {
    if (!isScope(key) || !scopes.includes(key)) {
      throw new ProtocolError(ErrorCode.GRANT_LIMITS_INVALID, {
        reason: `limit for scope ${key} that is not granted`,
      });
    }
  }
  const limits: Partial<Record<Scope, ScopeLimit>> = {};
  for (const scope of scopes) {
    const l = rawLimits[scope] as Record<string, unknown> | undefined;
    if (typeof l !== "object" || l === null) {
      throw new ProtocolError(ErrorCode.GRANT_LIMITS_INVALID, {
        reason: `scope ${scope} has no limits entry`,
      });
    }
    limits[scope] = Object.freeze({
      total: checkCount(`${scope}.total`, l.total, GRANT_LIMITS.maxTotal),
      perHour: checkCount(`${scope}.perHour`, l.perHour, GRANT_LIMITS.maxPerHour),
    });
  }

  let tipBudget: TipBudget | null = null;
  if (scopes.includes("tip")) {
    const t = g.tipBudget as Record<string, unknown> | null | undefined;
    if (typeof t !== "object" || t === null) {
      throw new ProtocolError(ErrorCode.GRANT_LIMITS_INVALID, {
        reason: "the tip scope needs a tip budget",
      });
    }
    assertMintAddress(t.mint, "tipBudget.mint");
    if (typeof t.amount !== "string" || !AMOUNT_RE.test(t.amount) || BigInt(t.amount) > U64_MAX) {
      throw new ProtocolError(ErrorCode.GRANT_LIMITS_INVALID, {
        reason: "tip budget amount must be a positive u64 in base units",
      });
    }
    if (
      !Number.isSafeInteger(t.decimals) ||
      (t.decimals as number) < 0 ||
      (t.decimals as number) > GRANT_LIMITS.maxDecimals
    ) {
      throw new ProtocolError(ErrorCode.GRANT_LIMITS_INVALID, {
        reason: "tip budget decimals must be 0 to 18",
      });
    }
    tipBudget = Object.freeze({ mint: t.mint, amount: t.amount, decimals: t.decimals as number });
  } else if (g.tipBudget !== null && g.tipBudget !== undefined) {
    throw new ProtocolError(ErrorCode.GRANT_LIMITS_INVALID, {
      reason: "a tip budget without the tip scope",
    });
  }

  const issuedAt = checkTimestamp("issuedAt", g.issuedAt);
  const notBefore = checkTimestamp("notBefore", g.notBefore);
  const expirationTime = checkTimestamp("expirationTime", g.expirationTime);
  if (notBefore < issuedAt) throw invalid("notBefore", "must not be before issuedAt");
  if (expirationTime <= notBefore) throw invalid("expirationTime", "must be after notBefore");

  if (typeof g.nonce !== "string" || g.nonce.length === 0 || g.nonce.length > 100) {
    throw new ProtocolError(ErrorCode.INVALID_BASE58, { field: "nonce" });
  }
  const nonceBytes = fromBase58(g.nonce, "nonce").length;
  if (nonceBytes < GRANT_LIMITS.minNonceBytes) {
    throw new ProtocolError(ErrorCode.GRANT_NONCE_TOO_SHORT, {
      minBytes: GRANT_LIMITS.minNonceBytes,
      actualBytes: nonceBytes,
    });
  }
  if (nonceBytes > GRANT_LIMITS.maxNonceBytes) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, {
      field: "nonce",
      max: GRANT_LIMITS.maxNonceBytes,
      actual: nonceBytes,
    });
  }

  return Object.freeze({
    version: GRANT_VERSION,
    domain,
    wallet: g.wallet,
    statement,
    uri,
    chain,
    network,
    device,
    sessionKey: g.sessionKey,
    encryptionKey: g.encryptionKey,
    scopes: Object.freeze(scopes),
    limits: Object.freeze(limits),
    tipBudget,
    issuedAt,
    notBefore,
    expirationTime,
    nonce: g.nonce,
  });
}

/** `5250000` base units with 6 decimals → `5.25`. */
export function formatUnits(amount: string, decimals: number): string {
  if (decimals === 0) return amount;
  const padded = amount.padStart(decimals + 1, "0");
  const whole = padded.slice(0, padded.length - decimals);
  const fraction = padded.slice(padded.length - decimals).replace(/0+$/, "");
  return fraction === "" ? whole : `${whole}.${fraction}`;
}

function limitWords(limit: ScopeLimit): string {
  const total = limit.total === null ? "no total limit" : `at most ${limit.total} in total`;
  const hourly = limit.perHour === null ? "no hourly limit" : `at most ${limit.perHour} per hour`;
  return `${total}, ${hourly}`;
}

const HEADER_SUFFIX = " wants you to start a Sesame session with your Solana account:";

/**
 * The exact text a wallet shows and signs. It is the grant's canonical form: its UTF-8
 * bytes are what the wallet signs and what the grant id hashes.
 */
export function grantToText(grant: Grant): string {
  const lines = [
    `${grant.domain}${HEADER_SUFFIX}`,
    grant.wallet,
    "",
    grant.statement,
    "",
    `URI: ${grant.uri}`,
    `Version: ${grant.version}`,
    `Chain: ${grant.chain}`,
    `Network: ${grant.network}`,
    `Device: ${grant.device}`,
    `Session Key: ${grant.sessionKey}`,
    `Encryption Key: ${grant.encryptionKey}`,
    "Permissions:",
  ];
  for (const scope of grant.scopes) {
    const limit = grant.limits[scope];
    if (limit !== undefined) lines.push(`- ${scope}: ${limitWords(limit)}`);
  }
  if (grant.tipBudget !== null) {
    const t = grant.tipBudget;
    lines.push(
      `Tip Budget: ${formatUnits(t.amount, t.decimals)} of token ${t.mint} (${t.amount} base units, ${t.decimals} decimals)`,
    );
  }
  lines.push(
    `Issued At: ${new Date(grant.issuedAt).toISOString()}`,
    `Not Before: ${new Date(grant.notBefore).toISOString()}`,
    `Expiration Time: ${new Date(grant.expirationTime).toISOString()}`,
    `Nonce: ${grant.nonce}`,
  );
  return lines.join("\n");
}

class LineReader {
  index = 0;
  constructor(readonly lines: readonly string[]) {}

  fail(reason: string): ProtocolError {
    return new ProtocolError(ErrorCode.GRANT_TEXT_MALFORMED, { line: this.index + 1, reason });
  }

  /** An error about the line just read. */
  failLast(reason: string): ProtocolError {
    return new ProtocolError(ErrorCode.GRANT_TEXT_MALFORMED, { line: this.index, reason });
  }

  next(): string {
    const line = this.lines[this.index];
    if (line === undefined) throw this.fail("the text ends too early");
    this.index++;
    return line;
  }

  peek(): string | undefined {
    return this.lines[this.index];
  }

  field(label: string): string {
    const line = this.next();
    const prefix = `${label}: `;
    if (!line.startsWith(prefix)) throw this.failLast(`expected "${prefix}"`);
    return line.slice(prefix.length);
  }
}

function parseIso(reader: LineReader, label: string): number {
  const value = reader.field(label);
  if (!ISO_RE.test(value)) {
    throw reader.failLast(`${label} must be an ISO 8601 UTC time with milliseconds`);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== value) {
    throw reader.failLast(`${label} is not a real time`);
  }
  return ms;
}

const LIMIT_RE =
  /^- ([a-z]+): (?:no total limit|at most ([0-9]+) in total), (?:no hourly limit|at most ([0-9]+) per hour)$/;
const TIP_RE =
  /^Tip Budget: ([0-9.]+) of token ([1-9A-HJ-NP-Za-km-z]+) \(([0-9]+) base units, ([0-9]+) decimals\)$/;

/**
 * Parses grant text back into a grant. Only the canonical form is accepted: the result
 * is re-rendered and must equal the input byte for byte.
 */
export function parseGrantText(text: string): Grant {
  if (typeof text !== "string")
    throw new ProtocolError(ErrorCode.GRANT_TEXT_MALFORMED, { line: 0, reason: "not a string" });
  const size = utf8Length(text);
  if (size > GRANT_LIMITS.maxTextBytes) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, {
      field: "grant",
      max: GRANT_LIMITS.maxTextBytes,
      actual: size,
    });
  }
  const r = new LineReader(text.split("\n"));
  const header = r.next();
  if (!header.endsWith(HEADER_SUFFIX)) throw r.failLast("not a Sesame grant header");
  const domain = header.slice(0, header.length - HEADER_SUFFIX.length);
  const wallet = r.next();
  if (r.next() !== "") throw r.failLast("expected an empty line");
  const statement = r.next();
  if (r.next() !== "") throw r.failLast("expected an empty line");
  const uri = r.field("URI");
  const version = r.field("Version");
  if (version !== String(GRANT_VERSION)) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, { version });
  }
  const chain = r.field("Chain");
  const network = r.field("Network");
  const device = r.field("Device");
  const sessionKey = r.field("Session Key");
  const encryptionKey = r.field("Encryption Key");
  if (r.next() !== "Permissions:") throw r.failLast('expected "Permissions:"');
  const scopes: string[] = [];
  const limits: Record<string, ScopeLimit> = {};
  while (r.peek()?.startsWith("- ")) {
    const m = LIMIT_RE.exec(r.next());
    if (m === null) throw r.failLast("a permission line must read '- scope: ..., ...'");
    const scope = m[1] as string;
    if (Object.hasOwn(limits, scope)) throw r.failLast(`scope ${scope} is listed twice`);
    scopes.push(scope);
    limits[scope] = {
      total: m[2] === undefined ? null : Number(m[2]),
      perHour: m[3] === undefined ? null : Number(m[3]),
    };
  }
  let tipBudget: { mint: string; amount: string; decimals: number } | null = null;
  if (r.peek()?.startsWith("Tip Budget: ")) {
    const m = TIP_RE.exec(r.next());
    if (m === null) throw r.failLast("the tip budget line is malformed");
    tipBudget = { mint: m[2] as string, amount: m[3] as string, decimals: Number(m[4]) };
  }
  const issuedAt = parseIso(r, "Issued At");
  const notBefore = parseIso(r, "Not Before");
  const expirationTime = parseIso(r, "Expiration Time");
  const nonce = r.field("Nonce");
  if (r.peek() !== undefined) throw r.fail("unexpected text after the nonce");

  const grant = validateGrant({
    version: GRANT_VERSION,
    domain,
    wallet,
    statement,
    uri,
    chain,
    network,
    device,
    sessionKey,
    encryptionKey,
    scopes,
    limits,
    tipBudget,
    issuedAt,
    notBefore,
    expirationTime,
    nonce,
  });
  if (grantToText(grant) !== text) {
    throw new ProtocolError(ErrorCode.GRANT_TEXT_MALFORMED, {
      line: 0,
      reason: "the text is not in canonical form",
    });
  }
  return grant;
}

/** The bytes a wallet signs for a grant: the UTF-8 of its text. */
export function grantBytes(grant: Grant): Uint8Array {
  return utf8(grantToText(grant));
}

/** SHA-256 of the grant's text bytes, base58. */
export function grantIdOf(grant: Grant): GrantId {
  return toBase58(sha256(grantBytes(grant))) as GrantId;
}

export function grantIdOfText(text: string): GrantId {
  return toBase58(sha256(utf8(text))) as GrantId;
}
