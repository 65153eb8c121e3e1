import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase58, toBase58, utf8, utf8Length } from "./encoding.js";
import { describeValue, ErrorCode, ProtocolError } from "./errors.js";
import { GRANT_LIMITS } from "./grant.js";
import { assertGrantId, assertWalletAddress, type GrantId, type WalletAddress } from "./ids.js";

/** What a revocation ends: one grant, or every grant issued before a time. */
export type RevocationTarget =
  | { readonly kind: "grant"; readonly grant: GrantId }
  | { readonly kind: "all"; readonly issuedBefore: number };

/** A wallet-signed revocation. Its text is what the wallet shows and signs. */
export interface Revocation {
  readonly version: 1;
  readonly wallet: WalletAddress;
  readonly network: string;
  readonly target: RevocationTarget;
  /**
   * When set, the key is reported stolen from this time: actions a node received at or
   * after it are hidden from reads. When null, history is kept.
   */
  readonly compromisedSince: number | null;
  readonly issuedAt: number;
  readonly nonce: string;
}

const HEADER = "Revoke Sesame sessions of this Solana account:";
const MAX_TEXT_BYTES = 1024;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const NETWORK_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

function malformed(reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.REVOCATION_MALFORMED, { reason });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function checkTime(field: string, value: unknown): number {
  if (
    !Number.isSafeInteger(value) ||
    (value as number) < 0 ||
    (value as number) > GRANT_LIMITS.maxTimestamp
  ) {
    throw malformed(`${field} must be milliseconds since 1970 within year 9999`);
  }
  return value as number;
}

export function validateRevocation(input: unknown): Revocation {
  if (typeof input !== "object" || input === null) throw malformed("must be an object");
  const r = input as Record<string, unknown>;
  if (r.version !== 1)
    throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, { version: describeValue(r.version) });
  assertWalletAddress(r.wallet, "wallet");
  if (typeof r.network !== "string" || !NETWORK_RE.test(r.network))
    throw malformed("network is invalid");
  const t = r.target as Record<string, unknown> | null;
  let target: RevocationTarget;
  if (typeof t === "object" && t !== null && t.kind === "grant") {
    assertGrantId(t.grant, "target.grant");
    target = Object.freeze({ kind: "grant", grant: t.grant });
  } else if (typeof t === "object" && t !== null && t.kind === "all") {
    target = Object.freeze({
      kind: "all",
      issuedBefore: checkTime("target.issuedBefore", t.issuedBefore),
    });
  } else {
    throw malformed("target must be one grant or all grants issued before a time");
  }
  const issuedAt = checkTime("issuedAt", r.issuedAt);
  // "All issued before T" may not reach past the revocation's own time: one mistaken or
  // phished signature must not block every future session of the wallet.
  if (target.kind === "all" && target.issuedBefore > issuedAt) {
    throw malformed("all sessions issued before a time after the revocation itself");
  }
  const compromisedSince =
    r.compromisedSince === null || r.compromisedSince === undefined
      ? null
      : checkTime("compromisedSince", r.compromisedSince);

  if (typeof r.nonce !== "string" || r.nonce.length === 0 || r.nonce.length > 100) {
    throw new ProtocolError(ErrorCode.INVALID_BASE58, { field: "nonce" });
  }
  const nonceBytes = fromBase58(r.nonce, "nonce").length;
  if (nonceBytes < GRANT_LIMITS.minNonceBytes)
    throw malformed("the nonce must have at least 16 bytes");
  return Object.freeze({
    version: 1,
    wallet: r.wallet,
    network: r.network,
    target,
    compromisedSince,
    issuedAt,
    nonce: r.nonce,
  });
}

/** The exact text the wallet signs for a revocation. */
export function revocationToText(rev: Revocation): string {
  const lines = [HEADER, rev.wallet, "", `Network: ${rev.network}`];
  lines.push(
    rev.target.kind === "grant"
      ? `Revoke: session ${rev.target.grant}`
      : `Revoke: all sessions issued before ${iso(rev.target.issuedBefore)}`,
  );
  if (rev.compromisedSince !== null) lines.push(`Compromised Since: ${iso(rev.compromisedSince)}`);
  lines.push(`Issued At: ${iso(rev.issuedAt)}`, `Nonce: ${rev.nonce}`);
  return lines.join("\n");
}

function parseIso(value: string, label: string): number {
  if (!ISO_RE.test(value))
    throw malformed(`${label} must be an ISO 8601 UTC time with milliseconds`);
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || iso(ms) !== value) throw malformed(`${label} is not a real time`);
  return ms;
}

function field(line: string | undefined, label: string): string {
  const prefix = `${label}: `;
  if (line === undefined || !line.startsWith(prefix)) throw malformed(`expected "${prefix}"`);
  return line.slice(prefix.length);
}

/** Parses revocation text; only the canonical form is accepted. */
export function parseRevocationText(text: string): Revocation {
  if (typeof text !== "string") throw malformed("not a string");
  if (utf8Length(text) > MAX_TEXT_BYTES) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, {
      field: "revocation",
      max: MAX_TEXT_BYTES,
      actual: utf8Length(text),
    });
  }
  const lines = text.split("\n");
  if (lines[0] !== HEADER) throw malformed("not a Sesame revocation header");
  if (lines[2] !== "") throw malformed("expected an empty line after the wallet");
  const network = field(lines[3], "Network");
  const what = field(lines[4], "Revoke");
  let target: unknown;
  if (what.startsWith("session ")) target = { kind: "grant", grant: what.slice("session ".length) };
  else if (what.startsWith("all sessions issued before ")) {
    target = {
      kind: "all",
      issuedBefore: parseIso(what.slice("all sessions issued before ".length), "Revoke"),
    };
  } else throw malformed("Revoke must name one session or all sessions issued before a time");
  let i = 5;
  let compromisedSince: number | null = null;
  if (lines[i]?.startsWith("Compromised Since: ")) {
    compromisedSince = parseIso(field(lines[i], "Compromised Since"), "Compromised Since");
    i++;
  }
  const issuedAt = parseIso(field(lines[i], "Issued At"), "Issued At");
  const nonce = field(lines[i + 1], "Nonce");
  if (lines.length !== i + 2) throw malformed("unexpected text after the nonce");
  const rev = validateRevocation({
    version: 1,
    wallet: lines[1],
    network,
    target,
    compromisedSince,
    issuedAt,
    nonce,
  });
  if (revocationToText(rev) !== text) throw malformed("the text is not in canonical form");
  return rev;
}

export function revocationIdOfText(text: string): string {
  return toBase58(sha256(utf8(text)));
}

/** Does this revocation end this grant? */
export function revocationCovers(
  rev: Revocation,
  grant: { readonly wallet: WalletAddress; readonly issuedAt: number },
  grantId: GrantId,
): boolean {
  if (rev.wallet !== grant.wallet) return false;
  return rev.target.kind === "grant"
    ? rev.target.grant === grantId
    : grant.issuedAt < rev.target.issuedBefore;
}
