import { describe, expect, it } from "vitest";
import { ERROR_TABLE, ErrorCode, errorName, httpStatus } from "../src/errors.js";

/**
 * The published codes, pinned: a client switches on these numbers, so renumbering,
 * renaming or remapping one must fail a test. Append new codes here; never edit a row.
 */
const PINNED: readonly (readonly [number, string, number])[] = [
  [1001, "MALFORMED_JSON", 400],
  [1002, "INVALID_FIELD", 400],
  [1003, "FIELD_TOO_LARGE", 400],
  [1004, "INVALID_BASE58", 400],
  [1005, "INVALID_BASE64URL", 400],
  [1006, "UNKNOWN_KIND", 400],
  [1007, "UNSUPPORTED_VERSION", 400],
  [1008, "INVALID_LENGTH", 400],
  [1009, "UNKNOWN_FIELD", 400],
  [2001, "BAD_SIGNATURE", 401],
  [2002, "NON_CANONICAL_SIGNATURE", 401],
  [2003, "SMALL_ORDER_PUBLIC_KEY", 401],
  [2004, "NON_CANONICAL_PUBLIC_KEY", 401],
  [3001, "GRANT_TEXT_MALFORMED", 400],
  [3002, "GRANT_DOMAIN_MISMATCH", 403],
  [3003, "GRANT_CHAIN_MISMATCH", 403],
  [3004, "GRANT_NETWORK_MISMATCH", 403],
  [3005, "GRANT_LIFETIME_TOO_LONG", 400],
  [3006, "GRANT_EXPIRED", 403],
  [3007, "GRANT_NOT_YET_VALID", 403],
  [3008, "GRANT_UNKNOWN", 404],
  [3009, "GRANT_NONCE_TOO_SHORT", 400],
  [3010, "GRANT_LIMITS_INVALID", 400],
  [3011, "GRANT_MEMO_MISMATCH", 400],
  [3012, "GRANT_ISSUED_IN_FUTURE", 400],
  [3013, "GRANT_REVOKED", 403],
  [4001, "SCOPE_NOT_GRANTED", 403],
  [4002, "OVER_CAP", 403],
  [4003, "OVER_RATE", 429],
  [4004, "TIMESTAMP_IN_FUTURE", 400],
  [4005, "OUTSIDE_WINDOW", 403],
  [4006, "EQUIVOCATION", 409],
  [4007, "SESSION_REVOKED", 403],
  [4008, "SESSION_EXPIRED", 403],
  [4009, "WRONG_GRANT", 400],
  [5001, "REVOCATION_MALFORMED", 400],
  [5002, "REVOCATION_WALLET_MISMATCH", 403],
  [5003, "EQUIVOCATION_PROOF_INVALID", 400],
  [6001, "NOT_FOUND", 404],
  [6002, "PAYLOAD_TOO_LARGE", 413],
  [6003, "TOO_MANY_REQUESTS", 429],
  [6004, "REQUEST_TIMEOUT", 408],
  [6005, "UNAUTHORIZED_REQUEST", 401],
  [6006, "BATCH_TOO_LARGE", 400],
  [6007, "INTERNAL", 500],
  [6008, "UNAVAILABLE", 503],
  [6009, "WRITE_OUTCOME_UNKNOWN", 504],
  [7001, "TIP_NOT_ON_CHAIN", 403],
  [7002, "TIP_MISMATCH", 403],
  [7003, "TIP_REUSED", 409],
  [7004, "CHAIN_ERROR", 400],
  [8001, "PEER_UNREACHABLE", 502],
  [8002, "PEER_RESPONSE_INVALID", 502],
];

describe("error codes", () => {
  it("are exactly the pinned codes, names and HTTP statuses", () => {
    expect(Object.keys(ERROR_TABLE).map(Number)).toEqual(PINNED.map(([code]) => code));
    for (const [code, name, status] of PINNED) {
      expect(errorName(code as ErrorCode)).toBe(name);
      expect(ErrorCode[name as keyof typeof ErrorCode]).toBe(code);
      expect(httpStatus(code as ErrorCode)).toBe(status);
    }
  });
});
