import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY, makeGrant, T0, TEST_CONTEXT, testKey, testNonce } from "../scripts/fixtures.js";
import { toBase58 } from "../src/encoding.js";
import { ErrorCode } from "../src/errors.js";
import { GRANT_LIMITS, grantIdOf } from "../src/grant.js";
import type { GrantId, WalletAddress } from "../src/ids.js";
import {
  parseRevocationText,
  type Revocation,
  revocationCovers,
  revocationIdOfText,
  revocationToText,
  validateRevocation,
} from "../src/revocation.js";
import { expectCode } from "./helpers.js";

const alice = testKey("alice");
const f = makeGrant();
const id = grantIdOf(f.grant);

function revocation(over: Partial<Revocation> = {}): Revocation {
  return {
    version: 1,
    wallet: alice.address as WalletAddress,
    network: TEST_CONTEXT.network,
    target: { kind: "grant", grant: id },
    compromisedSince: null,
    issuedAt: T0 + DAY,
    nonce: testNonce("revocation"),
    ...over,
  };
}

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toBase58);
const time = fc.integer({ min: 0, max: GRANT_LIMITS.maxTimestamp });
const arbitraryRevocation = fc
  .record({
    version: fc.constant(1 as const),
    wallet: key32 as fc.Arbitrary<WalletAddress>,
    network: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/),
    target: fc.oneof(
      fc.record({ kind: fc.constant("grant" as const), grant: key32 as fc.Arbitrary<GrantId> }),
      fc.record({ kind: fc.constant("all" as const), issuedBefore: time }),
    ),
    compromisedSince: fc.option(time, { nil: null }),
    issuedAt: time,
    nonce: fc.uint8Array({ minLength: 16, maxLength: 64 }).map(toBase58),
  })
  .filter((r) => r.target.kind === "grant" || r.target.issuedBefore <= r.issuedAt);

const text = revocationToText(revocation());
const lines = text.split("\n");
const withLineAt = (i: number, line: string | null) => {
  const copy = [...lines];
  if (line === null) copy.splice(i, 1);
  else copy[i] = line;
  return copy.join("\n");
};

describe("revocation text", () => {
  it("refuses 'all issued before T' with T after the revocation's own time (5001)", () => {
    const base = revocation();
    expectCode(
      () =>
        validateRevocation({ ...base, target: { kind: "all", issuedBefore: base.issuedAt + 1 } }),
      ErrorCode.REVOCATION_MALFORMED,
    );
  });

  it("round-trips any valid revocation (property)", () => {
    fc.assert(
      fc.property(arbitraryRevocation, (r) => {
        const rev = validateRevocation(r);
        const t = revocationToText(rev);
        const parsed = parseRevocationText(t);
        expect(parsed).toEqual(rev);
        expect(revocationToText(parsed)).toBe(t);
      }),
      { numRuns: 300 },
    );
  });

  it("reads as a wallet shows it, for one session", () => {
    expect(text).toBe(
      [
        "Revoke Sesame sessions of this Solana account:",
        alice.address,
        "",
        "Network: sesame-test",
        `Revoke: session ${id}`,
        "Issued At: 2026-11-27T12:00:00.000Z",
        `Nonce: ${testNonce("revocation")}`,
      ].join("\n"),
    );
  });

  it("reads as a wallet shows it, for all sessions with a compromise time", () => {
    const all = revocationToText(
      revocation({
        target: { kind: "all", issuedBefore: T0 + DAY },
        compromisedSince: T0 + 3_600_000,
      }),
    );
    expect(all.split("\n").slice(4, 7)).toEqual([
      "Revoke: all sessions issued before 2026-11-27T12:00:00.000Z",
      "Compromised Since: 2026-11-26T13:00:00.000Z",
      "Issued At: 2026-11-27T12:00:00.000Z",
    ]);
    expect(parseRevocationText(all).compromisedSince).toBe(T0 + 3_600_000);
  });

  it("gives the revocation id as base58 SHA-256 of the text, distinct per text", () => {
    expect(revocationIdOfText(text)).toMatch(/^[1-9A-HJ-NP-Za-km-z]{43,44}$/);
    expect(revocationIdOfText(text)).not.toBe(revocationIdOfText(`${text} `));
  });
});

describe("parseRevocationText refuses malformed text with 5001", () => {
  const cases: [string, string][] = [
    ["a wrong header", withLineAt(0, "Revoke sessions:")],
    ["a missing empty line", withLineAt(2, null)],
    ["a non-empty separator", withLineAt(2, " ")],
    ["a missing network", withLineAt(3, null)],
    ["a bad network", withLineAt(3, "Network: Sesame Test")],
    ["an unknown revoke target", withLineAt(4, "Revoke: everything")],
    ["a bad time in the target", withLineAt(4, "Revoke: all sessions issued before 2026-11-27")],
    ["a missing issued-at", withLineAt(5, null)],
    ["an issued-at that is not a real time", withLineAt(5, "Issued At: 2026-13-01T00:00:00.000Z")],
    ["an issued-at without milliseconds", withLineAt(5, "Issued At: 2026-11-27T12:00:00Z")],
    ["a missing nonce", withLineAt(6, null)],
    ["a short nonce", withLineAt(6, `Nonce: ${toBase58(new Uint8Array(15).fill(3))}`)],
    ["text after the nonce", `${text}\nP.S.`],
    ["a trailing newline", `${text}\n`],
    [
      "a compromise line after the issued-at",
      withLineAt(6, `Compromised Since: 2026-11-26T13:00:00.000Z\n${lines[6]}`),
    ],
    ["a non-string", 42 as unknown as string],
  ];
  it.each(cases)("refuses %s", (_name, t) => {
    expectCode(() => parseRevocationText(t), ErrorCode.REVOCATION_MALFORMED);
  });

  it("refuses text over 1024 bytes with 1003", () => {
    expectCode(() => parseRevocationText(`${text}${"x".repeat(1024)}`), ErrorCode.FIELD_TOO_LARGE);
  });

  it("refuses a bad wallet, grant id or nonce with the id's code", () => {
    expectCode(() => parseRevocationText(withLineAt(1, "alice")), ErrorCode.INVALID_BASE58);
    expectCode(
      () =>
        parseRevocationText(
          withLineAt(4, `Revoke: session ${toBase58(new Uint8Array(31).fill(2))}`),
        ),
      ErrorCode.INVALID_LENGTH,
    );
    expectCode(
      () => parseRevocationText(withLineAt(6, "Nonce: 0OIl0OIl0OIl0OIl0OIl")),
      ErrorCode.INVALID_BASE58,
    );
  });
});

describe("validateRevocation", () => {
  it("returns a frozen copy", () => {
    const r = validateRevocation(revocation());
    expect(r).toEqual(revocation());
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.target)).toBe(true);
  });

  it("treats a missing compromise time as none", () => {
    const { compromisedSince: _c, ...rest } = revocation();
    expect(validateRevocation(rest).compromisedSince).toBeNull();
  });

  it("refuses a hostile object as version with 1007, not a TypeError", () => {
    const e = expectCode(
      () => validateRevocation(revocation({ version: { toString: 1 } } as never)),
      ErrorCode.UNSUPPORTED_VERSION,
    );
    expect(e.context).toEqual({ version: "an object" });
  });

  it("refuses a non-object, a bad target or bad times with 5001", () => {
    expectCode(() => validateRevocation(null), ErrorCode.REVOCATION_MALFORMED);
    for (const target of [null, { kind: "grants" }, "all"]) {
      expectCode(
        () => validateRevocation(revocation({ target } as never)),
        ErrorCode.REVOCATION_MALFORMED,
      );
    }
    for (const t of [-1, 1.5, GRANT_LIMITS.maxTimestamp + 1, "0"]) {
      expectCode(
        () => validateRevocation(revocation({ issuedAt: t } as never)),
        ErrorCode.REVOCATION_MALFORMED,
      );
      expectCode(
        () => validateRevocation(revocation({ compromisedSince: t } as never)),
        ErrorCode.REVOCATION_MALFORMED,
      );
      expectCode(
        () => validateRevocation(revocation({ target: { kind: "all", issuedBefore: t } } as never)),
        ErrorCode.REVOCATION_MALFORMED,
      );
    }
    expectCode(
      () => validateRevocation(revocation({ network: 5 } as never)),
      ErrorCode.REVOCATION_MALFORMED,
    );
  });

  it("refuses another version with 1007 and a nonce that is not a string with 1004", () => {
    expectCode(
      () => validateRevocation(revocation({ version: 2 } as never)),
      ErrorCode.UNSUPPORTED_VERSION,
    );
    expectCode(
      () => validateRevocation(revocation({ nonce: 1 } as never)),
      ErrorCode.INVALID_BASE58,
    );
    expectCode(
      () => validateRevocation(revocation({ nonce: "2".repeat(101) })),
      ErrorCode.INVALID_BASE58,
    );
  });
});

describe("revocationCovers", () => {
  const grant = { wallet: alice.address as WalletAddress, issuedAt: T0 };

  it("covers the one grant it names, of its own wallet", () => {
    expect(revocationCovers(revocation(), grant, id)).toBe(true);
    expect(revocationCovers(revocation(), grant, grantIdOf(makeGrant("alice", "s2").grant))).toBe(
      false,
    );
  });

  it("covers all grants issued strictly before its time", () => {
    const all = revocation({ target: { kind: "all", issuedBefore: T0 + 1 } });
    expect(revocationCovers(all, grant, id)).toBe(true);
    expect(revocationCovers(all, { ...grant, issuedAt: T0 + 1 }, id)).toBe(false);
    expect(revocationCovers(all, { ...grant, issuedAt: T0 + 2 }, id)).toBe(false);
  });

  it("never covers another wallet's grant", () => {
    const bob = { wallet: testKey("bob").address as WalletAddress, issuedAt: T0 };
    expect(revocationCovers(revocation(), bob, id)).toBe(false);
    expect(
      revocationCovers(revocation({ target: { kind: "all", issuedBefore: T0 + DAY } }), bob, id),
    ).toBe(false);
  });
});
