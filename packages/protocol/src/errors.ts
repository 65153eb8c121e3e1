/**
 * Stable numeric error codes, grouped by area. A code is never reordered, reused or
 * renumbered: clients switch on it. New codes are appended within their area.
 *
 *   1xxx  encoding and shape        4xxx  policy (session state)
 *   2xxx  signatures and keys       5xxx  revocations and equivocation proofs
 *   3xxx  grants                    6xxx  node and transport
 *                                   7xxx  funds tier (chain)
 *                                   8xxx  federation (peers)
 */
export const ErrorCode = {
  // 1xxx encoding and shape
  MALFORMED_JSON: 1001,
  INVALID_FIELD: 1002,
  FIELD_TOO_LARGE: 1003,
  INVALID_BASE58: 1004,
  INVALID_BASE64URL: 1005,
  UNKNOWN_KIND: 1006,
  UNSUPPORTED_VERSION: 1007,
  INVALID_LENGTH: 1008,
  UNKNOWN_FIELD: 1009,

  // 2xxx signatures and keys
  BAD_SIGNATURE: 2001,
  NON_CANONICAL_SIGNATURE: 2002,
  SMALL_ORDER_PUBLIC_KEY: 2003,
  NON_CANONICAL_PUBLIC_KEY: 2004,

  // 3xxx grants
  GRANT_TEXT_MALFORMED: 3001,
  GRANT_DOMAIN_MISMATCH: 3002,
  GRANT_CHAIN_MISMATCH: 3003,
  GRANT_NETWORK_MISMATCH: 3004,
  GRANT_LIFETIME_TOO_LONG: 3005,
  GRANT_EXPIRED: 3006,
  GRANT_NOT_YET_VALID: 3007,
  GRANT_UNKNOWN: 3008,
  GRANT_NONCE_TOO_SHORT: 3009,
  GRANT_LIMITS_INVALID: 3010,
  GRANT_MEMO_MISMATCH: 3011,
  GRANT_ISSUED_IN_FUTURE: 3012,
  GRANT_REVOKED: 3013,

  // 4xxx policy
  SCOPE_NOT_GRANTED: 4001,
  OVER_CAP: 4002,
  OVER_RATE: 4003,
  TIMESTAMP_IN_FUTURE: 4004,
  OUTSIDE_WINDOW: 4005,
  EQUIVOCATION: 4006,
  SESSION_REVOKED: 4007,
  SESSION_EXPIRED: 4008,
  WRONG_GRANT: 4009,

  // 5xxx revocations and equivocation proofs
  REVOCATION_MALFORMED: 5001,
  REVOCATION_WALLET_MISMATCH: 5002,
  EQUIVOCATION_PROOF_INVALID: 5003,

  // 6xxx node and transport
  NOT_FOUND: 6001,
  PAYLOAD_TOO_LARGE: 6002,
  TOO_MANY_REQUESTS: 6003,
  REQUEST_TIMEOUT: 6004,
  UNAUTHORIZED_REQUEST: 6005,
  BATCH_TOO_LARGE: 6006,
  INTERNAL: 6007,
  UNAVAILABLE: 6008,
  WRITE_OUTCOME_UNKNOWN: 6009,

  // 7xxx funds tier
  TIP_NOT_ON_CHAIN: 7001,
  TIP_MISMATCH: 7002,
  TIP_REUSED: 7003,
  CHAIN_ERROR: 7004,

  // 8xxx federation
  PEER_UNREACHABLE: 8001,
  PEER_RESPONSE_INVALID: 8002,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
export type ErrorName = keyof typeof ErrorCode;

/** Typed context for each code. Values are JSON-safe so an error crosses HTTP intact. */
export interface ErrorContextMap {
  1001: { reason: string };
  1002: { field: string; reason: string };
  1003: { field: string; max: number; actual: number };
  1004: { field: string };
  1005: { field: string };
  1006: { kind: string };
  1007: { version: number | string };
  1008: { field: string; expected: number; actual: number };
  1009: { field: string };
  2001: { signer: string };
  2002: { signer: string };
  2003: { publicKey: string };
  2004: { publicKey: string };
  3001: { line: number; reason: string };
  3002: { expected: string; actual: string };
  3003: { expected: string; actual: string };
  3004: { expected: string; actual: string };
  3005: { maxMs: number; actualMs: number };
  3006: { expirationTime: number; at: number };
  3007: { notBefore: number; at: number };
  3008: { grantId: string };
  3009: { minBytes: number; actualBytes: number };
  3010: { reason: string };
  3011: { reason: string };
  3012: { issuedAt: number; at: number };
  3013: { grantId: string; revokedAt: number };
  4001: { scope: string };
  4002: { scope: string; cap: number; ordinal: number };
  4003: { scope: string; perHour: number };
  4004: { timestamp: number; at: number; maxSkewMs: number };
  4005: { timestamp: number; notBefore: number; expirationTime: number };
  4006: { sequence: number; existing: string; conflicting: string; by: "sequence" | "ordinal" };
  4007: { grantId: string; revokedAt: number };
  4008: { grantId: string; expirationTime: number; at: number };
  4009: { expected: string; actual: string };
  5001: { reason: string };
  5002: { expected: string; actual: string };
  5003: { reason: string };
  6001: { what: string };
  6002: { maxBytes: number };
  6003: { retryAfterMs: number };
  6004: { timeoutMs: number };
  6005: { reason: string };
  6006: { max: number; actual: number };
  6007: { reference: string };
  6008: { reason: string };
  6009: { timeoutMs: number };
  7001: { signature: string };
  7002: { field: string; expected: string; actual: string };
  7003: { signature: string; usedBy: string };
  7004: { instruction: number; program: string; name: string; message: string };
  8001: { peer: string; reason: string };
  8002: { peer: string; reason: string };
}

export type ErrorContext<C extends ErrorCode> = C extends keyof ErrorContextMap
  ? ErrorContextMap[C]
  : never;

interface ErrorInfo {
  readonly status: number;
  readonly message: string;
}

/**
 * One table: every code's HTTP status and message template. `{name}` placeholders are
 * filled from the context. `satisfies` makes a missing or extra code a type error.
 */
export const ERROR_TABLE = {
  1001: { status: 400, message: "The message is not valid JSON: {reason}" },
  1002: { status: 400, message: "Field {field} is invalid: {reason}" },
  1003: { status: 400, message: "Field {field} is too large: {actual} bytes, at most {max}" },
  1004: { status: 400, message: "Field {field} is not valid base58" },
  1005: { status: 400, message: "Field {field} is not valid base64url" },
  1006: { status: 400, message: "Unknown message kind {kind}" },
  1007: { status: 400, message: "Unsupported protocol version {version}" },
  1008: { status: 400, message: "Field {field} must be {expected} bytes, not {actual}" },
  1009: { status: 400, message: "Unknown field {field}" },
  2001: { status: 401, message: "The signature of {signer} does not verify" },
  2002: { status: 401, message: "The signature of {signer} is not canonical (S must be below L)" },
  2003: { status: 401, message: "Public key {publicKey} is of small order" },
  2004: { status: 401, message: "Public key {publicKey} is not a canonical point encoding" },
  3001: { status: 400, message: "The grant text is malformed at line {line}: {reason}" },
  3002: { status: 403, message: "The grant is for domain {actual}, expected {expected}" },
  3003: { status: 403, message: "The grant is for chain {actual}, expected {expected}" },
  3004: { status: 403, message: "The grant is for network {actual}, expected {expected}" },
  3005: { status: 400, message: "The grant lasts {actualMs} ms, at most {maxMs} ms is allowed" },
  3006: { status: 403, message: "The grant expired at {expirationTime}" },
  3007: { status: 403, message: "The grant is not valid before {notBefore}" },
  3008: { status: 404, message: "Unknown grant {grantId}" },
  3009: { status: 400, message: "The grant nonce has {actualBytes} bytes, at least {minBytes}" },
  3010: { status: 400, message: "The grant's limits are invalid: {reason}" },
  3011: { status: 400, message: "The transaction's memo does not carry this grant: {reason}" },
  3012: { status: 400, message: "The grant is issued in the future ({issuedAt})" },
  3013: { status: 403, message: "Grant {grantId} was revoked at {revokedAt}" },
  4001: { status: 403, message: "The session was not granted scope {scope}" },
  4002: { status: 403, message: "Over the {scope} cap: ordinal {ordinal} is above {cap}" },
  4003: { status: 429, message: "Over the {scope} rate of {perHour} per hour" },
  4004: { status: 400, message: "Timestamp {timestamp} is too far in the future" },
  4005: { status: 403, message: "Timestamp {timestamp} is outside the grant's window" },
  4006: {
    status: 409,
    message: "Equivocation: {conflicting} reuses the {by} of {existing}; the session is revoked",
  },
  4007: { status: 403, message: "Session {grantId} was revoked at {revokedAt}" },
  4008: { status: 403, message: "Session {grantId} expired at {expirationTime}" },
  4009: { status: 400, message: "The action names grant {actual}, expected {expected}" },
  5001: { status: 400, message: "The revocation is malformed: {reason}" },
  5002: { status: 403, message: "The revocation is signed for {actual}, not {expected}" },
  5003: { status: 400, message: "The equivocation proof is invalid: {reason}" },
  6001: { status: 404, message: "Not found: {what}" },
  6002: { status: 413, message: "The request is larger than {maxBytes} bytes" },
  6003: { status: 429, message: "Too many requests; retry after {retryAfterMs} ms" },
  6004: { status: 408, message: "The request took longer than {timeoutMs} ms" },
  6005: { status: 401, message: "The request is not authorized: {reason}" },
  6006: { status: 400, message: "A batch holds at most {max} items, not {actual}" },
  6007: { status: 500, message: "Internal error (reference {reference})" },
  6008: { status: 503, message: "Unavailable: {reason}" },
  6009: {
    status: 504,
    message:
      "No answer within {timeoutMs} ms: the write may or may not be stored; send the same signed message again to learn its outcome (it is idempotent)",
  },
  7001: { status: 403, message: "Transaction {signature} is not on chain or did not succeed" },
  7002: { status: 403, message: "The tip's {field} is {actual}, the transaction says {expected}" },
  7003: { status: 409, message: "Transaction {signature} was already used by tip {usedBy}" },
  7004: { status: 400, message: "Instruction {instruction} ({program}) failed: {name}: {message}" },
  8001: { status: 502, message: "Peer {peer} could not be reached: {reason}" },
  8002: { status: 502, message: "Peer {peer} sent an invalid sync page: {reason}" },
} as const satisfies Record<ErrorCode, ErrorInfo>;

const NAME_BY_CODE: ReadonlyMap<number, ErrorName> = new Map(
  (Object.entries(ErrorCode) as [ErrorName, ErrorCode][]).map(([name, code]) => [code, name]),
);

export function errorName(code: ErrorCode): ErrorName {
  const name = NAME_BY_CODE.get(code);
  if (name === undefined) throw new RangeError(`unknown error code ${code}`);
  return name;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "number" && NAME_BY_CODE.has(value);
}

export function httpStatus(code: ErrorCode): number {
  return ERROR_TABLE[code].status;
}

/**
 * A short, safe description of an untrusted value for an error message or context. It
 * never calls the value's own methods: a JSON body can hold `{"toString": 1}`, and
 * `String()` of that throws, which would turn a refusal into an internal error. Strings
 * are returned as they are, cut to `max` UTF-16 units (an ellipsis marks the cut); other primitives as `String()`
 * gives them; objects, arrays and functions by their type only.
 */
export function describeValue(value: unknown, max = 64): string {
  switch (typeof value) {
    case "string":
      return value.length > max ? `${value.slice(0, max - 1)}…` : value;
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "bigint":
      return `${value.toString()}n`;
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      if (value === null) return "null";
      return Array.isArray(value) ? `an array of length ${value.length}` : "an object";
  }
}

function render(template: string, context: object): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = (context as Record<string, unknown>)[key];
    if (value === undefined) return whole;
    return typeof value === "string" ? value : describeValue(value, Number.POSITIVE_INFINITY);
  });
}

/** The JSON form of an error, as a node answers it. */
export interface ErrorBody<C extends ErrorCode = ErrorCode> {
  readonly code: C;
  readonly name: ErrorName;
  readonly message: string;
  readonly context: ErrorContext<C>;
}

export class ProtocolError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly context: ErrorContext<C>;

  constructor(code: C, context: ErrorContext<C>) {
    super(render(ERROR_TABLE[code].message, context));
    this.name = errorName(code);
    this.code = code;
    this.context = Object.freeze({ ...context }) as ErrorContext<C>;
  }

  get status(): number {
    return httpStatus(this.code);
  }

  toJSON(): ErrorBody<C> {
    return {
      code: this.code,
      name: errorName(this.code),
      message: this.message,
      context: this.context,
    };
  }
}

export function protocolError<C extends ErrorCode>(
  code: C,
  context: ErrorContext<C>,
): ProtocolError<C> {
  return new ProtocolError(code, context);
}

export function isProtocolError<C extends ErrorCode>(e: unknown, code?: C): e is ProtocolError<C> {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
