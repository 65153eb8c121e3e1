import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY, makeGrant, T0, testKey } from "../scripts/fixtures.js";
import { X25519_SMALL_ORDER_ENCODINGS } from "../src/crypto/strict.js";
import { fromUtf8, toBase58, utf8 } from "../src/encoding.js";
import { ErrorCode } from "../src/errors.js";
import {
  formatUnits,
  GRANT_LIMITS,
  type Grant,
  grantBytes,
  grantIdOf,
  grantIdOfText,
  grantToText,
  isScope,
  parseGrantText,
  SCOPES,
  type Scope,
  validateGrant,
} from "../src/grant.js";
import { errorOf, expectCode } from "./helpers.js";

const U64_MAX = 18_446_744_073_709_551_615n;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters a grant line refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

// --- arbitraries ------------------------------------------------------------------------

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toBase58);

/** One printable line: no control characters, no surrounding whitespace, at most `max` bytes. */
function lineText(max: number, maxLength: number) {
  return fc
    .oneof(
      fc.string({ unit: "grapheme", minLength: 1, maxLength }),
      fc.string({ unit: "binary", minLength: 1, maxLength }),
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength }),
    )
    .map((s) => s.replace(CONTROL, "x").trim())
    .filter((s) => s.length > 0 && utf8(s).length <= max);
}

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc
  .tuple(
    fc.array(label, { minLength: 1, maxLength: 3 }),
    fc.option(fc.integer({ min: 1, max: 65535 })),
  )
  .map(([labels, port]) => labels.join(".") + (port === null ? "" : `:${port}`));
const uri = fc
  .tuple(fc.constantFrom("https", "http", "sesame+app", "urn"), fc.stringMatching(/^[!-~]{1,40}$/))
  .map(([scheme, rest]) => `${scheme}:${rest}`);
const chain = fc.stringMatching(/^[A-Za-z0-9]{1,32}$/).map((r) => `solana:${r}`);
const network = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/);
const count = (max: number) => fc.option(fc.integer({ min: 1, max }), { nil: null });
const limit = fc.record({
  total: count(GRANT_LIMITS.maxTotal),
  perHour: count(GRANT_LIMITS.maxPerHour),
});
const tipBudget = fc.record({
  mint: key32,
  amount: fc.bigInt({ min: 1n, max: U64_MAX }).map(String),
  decimals: fc.integer({ min: 0, max: GRANT_LIMITS.maxDecimals }),
});
const times = fc
  .tuple(
    fc.integer({ min: 0, max: GRANT_LIMITS.maxTimestamp }),
    fc.integer({ min: 0, max: GRANT_LIMITS.maxTimestamp }),
    fc.integer({ min: 0, max: GRANT_LIMITS.maxTimestamp }),
  )
  .map((t) => [...t].sort((a, b) => a - b) as [number, number, number])
  .filter(([, notBefore, expiration]) => notBefore < expiration);

/** Arbitrary valid grant input: scopes in canonical order, limits per scope, budget iff tip. */
const grantInput = fc
  .record({
    domain,
    wallet: key32,
    statement: lineText(GRANT_LIMITS.maxStatementBytes, 80),
    uri,
    chain,
    network,
    device: lineText(GRANT_LIMITS.maxDeviceBytes, 20),
    sessionKey: key32,
    encryptionKey: key32,
    scopes: fc.subarray([...SCOPES], { minLength: 1 }),
    limits: fc.record(
      Object.fromEntries(SCOPES.map((s) => [s, limit])) as Record<Scope, typeof limit>,
    ),
    tipBudget,
    times,
    nonce: fc.uint8Array({ minLength: 16, maxLength: 64 }).map(toBase58),
  })
  .map(({ times: [issuedAt, notBefore, expirationTime], scopes, limits, tipBudget, ...rest }) => ({
    version: 1,
    ...rest,
    scopes,
    limits: Object.fromEntries(scopes.map((s) => [s, limits[s]])),
    tipBudget: scopes.includes("tip") ? tipBudget : null,
    issuedAt,
    notBefore,
    expirationTime,
  }));

// --- text editing helpers ---------------------------------------------------------------

const base = makeGrant();
const lines = base.text.split("\n");

function indexOf(prefix: string): number {
  const i = lines.findIndex((l) => l.startsWith(prefix));
  if (i < 0) throw new Error(`no line starts with ${prefix}`);
  return i;
}

/** The fixture text with the line starting with `prefix` replaced (or removed, for null). */
function withLine(prefix: string, replacement: string | null): string {
  const i = indexOf(prefix);
  const copy = [...lines];
  if (replacement === null) copy.splice(i, 1);
  else copy[i] = replacement;
  return copy.join("\n");
}

function withLineAt(i: number, replacement: string | null): string {
  const copy = [...lines];
  if (replacement === null) copy.splice(i, 1);
  else copy[i] = replacement;
  return copy.join("\n");
}

function input(overrides: Record<string, unknown>): Record<string, unknown> {
  return { ...base.grant, ...overrides };
}

// --- tests ------------------------------------------------------------------------------

describe("grant text round trip", () => {
  it("parses the text of any valid grant back to the same grant, and renders the same text (property)", () => {
    fc.assert(
      fc.property(grantInput, (raw) => {
        const grant = validateGrant(raw);
        const text = grantToText(grant);
        const parsed = parseGrantText(text);
        expect(parsed).toEqual(grant);
        expect(grantToText(parsed)).toBe(text);
        expect(fromUtf8(grantBytes(parsed), "grant")).toBe(text);
        expect(grantIdOf(parsed)).toBe(grantIdOfText(text));
      }),
      { numRuns: 300 },
    );
  });

  it("renders the fixture grant exactly as a wallet shows it", () => {
    const g = base.grant;
    expect(base.text).toBe(
      [
        `app.sesame.test wants you to start a Sesame session with your Solana account:`,
        g.wallet,
        "",
        "Let this app post, reply, react, follow, edit my profile, send DMs and tip for me.",
        "",
        "URI: https://app.sesame.test/",
        "Version: 1",
        "Chain: solana:localnet",
        "Network: sesame-test",
        "Device: Test device",
        `Session Key: ${g.sessionKey}`,
        `Encryption Key: ${g.encryptionKey}`,
        "Permissions:",
        "- post: at most 50 in total, at most 20 per hour",
        "- reply: at most 100 in total, at most 30 per hour",
        "- react: no total limit, at most 120 per hour",
        "- follow: at most 200 in total, no hourly limit",
        "- profile: at most 10 in total, at most 5 per hour",
        "- dm: at most 500 in total, at most 60 per hour",
        "- tip: at most 20 in total, at most 10 per hour",
        `Tip Budget: 5 of token ${testKey("mint").address} (5000000 base units, 6 decimals)`,
        "Issued At: 2026-11-26T12:00:00.000Z",
        "Not Before: 2026-11-26T12:00:00.000Z",
        "Expiration Time: 2026-12-03T12:00:00.000Z",
        `Nonce: ${g.nonce}`,
      ].join("\n"),
    );
  });

  it("round-trips a grant without the tip scope (no budget line)", () => {
    const f = makeGrant("alice", "s", {
      scopes: ["post", "react"],
      limits: { post: { total: 1, perHour: null }, react: { total: null, perHour: null } },
      tipBudget: null,
    });
    expect(f.text).not.toContain("Tip Budget");
    expect(f.text).toContain("- react: no total limit, no hourly limit");
    expect(parseGrantText(f.text)).toEqual(f.grant);
  });

  it("gives the grant id as SHA-256 of the text bytes, equal for the grant and its text", () => {
    expect(grantIdOf(base.grant)).toBe(grantIdOfText(base.text));
    expect(grantIdOf(makeGrant("alice", "other-session").grant)).not.toBe(grantIdOf(base.grant));
  });
});

describe("parseGrantText refuses malformed text", () => {
  it("refuses a non-string with 3001", () => {
    expectCode(() => parseGrantText(42 as unknown as string), ErrorCode.GRANT_TEXT_MALFORMED);
  });

  it("refuses text over 4096 bytes with 1003 before parsing", () => {
    const e = expectCode(
      () => parseGrantText(`${base.text}${"x".repeat(4096)}`),
      ErrorCode.FIELD_TOO_LARGE,
    );
    expect(e.context).toMatchObject({ field: "grant", max: 4096 });
  });

  it("refuses a wrong header with 3001 at line 1", () => {
    const e = expectCode(
      () => parseGrantText(withLineAt(0, "app.sesame.test wants you to sign in")),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
    expect(e.context).toMatchObject({ line: 1 });
  });

  it("refuses Windows line endings with 3001", () => {
    expectCode(
      () => parseGrantText(base.text.replaceAll("\n", "\r\n")),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
  });

  it("refuses a missing empty line with 3001 naming the line", () => {
    const e = expectCode(() => parseGrantText(withLineAt(2, null)), ErrorCode.GRANT_TEXT_MALFORMED);
    expect(e.context).toMatchObject({ line: 3 });
    const e2 = expectCode(
      () => parseGrantText(withLineAt(4, null)),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
    expect(e2.context).toMatchObject({ line: 5 });
  });

  it("refuses every missing labelled line with 3001", () => {
    for (const prefix of [
      "URI: ",
      "Version: ",
      "Chain: ",
      "Network: ",
      "Device: ",
      "Session Key: ",
      "Encryption Key: ",
      "Permissions:",
      "Issued At: ",
      "Not Before: ",
      "Expiration Time: ",
      "Nonce: ",
    ]) {
      expectCode(() => parseGrantText(withLine(prefix, null)), ErrorCode.GRANT_TEXT_MALFORMED);
    }
  });

  it("refuses text that ends early with 3001", () => {
    expectCode(() => parseGrantText(lines.slice(0, 3).join("\n")), ErrorCode.GRANT_TEXT_MALFORMED);
    expectCode(() => parseGrantText(""), ErrorCode.GRANT_TEXT_MALFORMED);
  });

  it("refuses lines swapped out of order with 3001", () => {
    const i = indexOf("Chain: ");
    const copy = [...lines];
    [copy[i], copy[i + 1]] = [copy[i + 1] as string, copy[i] as string];
    expectCode(() => parseGrantText(copy.join("\n")), ErrorCode.GRANT_TEXT_MALFORMED);
  });

  it("refuses extra lines (trailing text, a trailing newline, an inserted line) with 3001", () => {
    const e = expectCode(
      () => parseGrantText(`${base.text}\nPS: hi`),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
    expect(e.context).toMatchObject({ line: lines.length + 1 });
    expectCode(() => parseGrantText(`${base.text}\n`), ErrorCode.GRANT_TEXT_MALFORMED);
    const copy = [...lines];
    copy.splice(indexOf("Issued At: "), 0, "Resources: none");
    expectCode(() => parseGrantText(copy.join("\n")), ErrorCode.GRANT_TEXT_MALFORMED);
  });

  it("refuses a newline injected into the statement or device with 3001", () => {
    const text = withLineAt(3, "Let this app post.\nURI: https://evil.example/");
    expectCode(() => parseGrantText(text), ErrorCode.GRANT_TEXT_MALFORMED);
    expectCode(
      () => parseGrantText(withLine("Device: ", "Device: A\nSession Key: x")),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
  });

  it("refuses control characters and line separators in the statement or device with 1002", () => {
    for (const c of ["\r", "\t", "\u0000", "\u001b", "\u007f", "\u0085", "\u2028", "\u2029"]) {
      const e = expectCode(
        () => parseGrantText(withLineAt(3, `Post for me${c}please`)),
        ErrorCode.INVALID_FIELD,
      );
      expect(e.context).toMatchObject({ field: "statement" });
      const e2 = expectCode(
        () => parseGrantText(withLine("Device: ", `Device: Phone${c}x`)),
        ErrorCode.INVALID_FIELD,
      );
      expect(e2.context).toMatchObject({ field: "device" });
    }
  });

  it("refuses bidirectional controls and invisible characters in the statement or device with 1002", () => {
    for (const c of ["\u200b", "\u200e", "\u202e", "\u2066", "\u2069", "\ufeff"]) {
      expectCode(
        () => parseGrantText(withLineAt(3, `Post for me${c}please`)),
        ErrorCode.INVALID_FIELD,
      );
      expectCode(
        () => parseGrantText(withLine("Device: ", `Device: Phone${c}x`)),
        ErrorCode.INVALID_FIELD,
      );
    }
  });

  it("refuses surrounding whitespace in the statement with 1002", () => {
    expectCode(() => parseGrantText(withLineAt(3, " Post for me")), ErrorCode.INVALID_FIELD);
    expectCode(() => parseGrantText(withLineAt(3, "Post for me\u00a0")), ErrorCode.INVALID_FIELD);
  });

  it("refuses an empty statement with 1002", () => {
    expectCode(() => parseGrantText(withLineAt(3, "")), ErrorCode.INVALID_FIELD);
  });

  it("refuses a statement over 280 bytes (counted in UTF-8) with 1003", () => {
    expect(parseGrantText(withLineAt(3, "é".repeat(140))).statement).toBe("é".repeat(140));
    const e = expectCode(
      () => parseGrantText(withLineAt(3, "é".repeat(141))),
      ErrorCode.FIELD_TOO_LARGE,
    );
    expect(e.context).toEqual({ field: "statement", max: 280, actual: 282 });
  });

  it("refuses a statement with a lone surrogate, whose signed bytes would not be the text, with 1002", () => {
    expectCode(() => parseGrantText(withLineAt(3, "Post \ud800 for me")), ErrorCode.INVALID_FIELD);
    expectCode(
      () => parseGrantText(withLine("Device: ", "Device: \udfff")),
      ErrorCode.INVALID_FIELD,
    );
  });

  it("refuses a non-canonical number like 050 with 3001", () => {
    const e = expectCode(
      () =>
        parseGrantText(withLine("- post:", "- post: at most 050 in total, at most 20 per hour")),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
    expect(e.context).toEqual({ line: 0, reason: "the text is not in canonical form" });
    expectCode(
      () =>
        parseGrantText(withLine("- post:", "- post: at most 50 in total, at most 020 per hour")),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
  });

  it("refuses limits out of range with 3010", () => {
    for (const line of [
      "- post: at most 0 in total, at most 20 per hour",
      "- post: at most 1000001 in total, at most 20 per hour",
      "- post: at most 50 in total, at most 0 per hour",
      "- post: at most 50 in total, at most 10001 per hour",
      "- post: at most 99999999999999999999 in total, at most 20 per hour",
    ]) {
      expectCode(() => parseGrantText(withLine("- post:", line)), ErrorCode.GRANT_LIMITS_INVALID);
    }
    const max = parseGrantText(
      withLine("- post:", "- post: at most 1000000 in total, at most 10000 per hour"),
    );
    expect(max.limits.post).toEqual({ total: 1_000_000, perHour: 10_000 });
  });

  it("refuses a permission line in another wording with 3001", () => {
    for (const line of [
      "- post: at most 50 in total",
      "- post: unlimited",
      "-post: at most 50 in total, at most 20 per hour",
      "- post: at most -1 in total, at most 20 per hour",
      "- Post: at most 50 in total, at most 20 per hour",
    ]) {
      expectCode(() => parseGrantText(withLine("- post:", line)), ErrorCode.GRANT_TEXT_MALFORMED);
    }
  });

  it("refuses scopes out of canonical order with 1002", () => {
    const i = indexOf("- post:");
    const copy = [...lines];
    [copy[i], copy[i + 1]] = [copy[i + 1] as string, copy[i] as string];
    const e = expectCode(() => parseGrantText(copy.join("\n")), ErrorCode.INVALID_FIELD);
    expect(e.context).toMatchObject({ field: "scopes" });
  });

  it("refuses a scope listed twice with 3001", () => {
    const copy = [...lines];
    copy.splice(indexOf("- post:"), 0, lines[indexOf("- post:")] as string);
    expectCode(() => parseGrantText(copy.join("\n")), ErrorCode.GRANT_TEXT_MALFORMED);
  });

  it("refuses an unknown scope with 1002, including names of Object.prototype", () => {
    for (const scope of ["admin", "constructor", "tostring", "proto"]) {
      const copy = [...lines];
      copy.splice(indexOf("- tip:") + 1, 0, `- ${scope}: no total limit, no hourly limit`);
      const e = expectCode(() => parseGrantText(copy.join("\n")), ErrorCode.INVALID_FIELD);
      expect(e.context).toEqual({ field: "scopes", reason: `unknown scope ${scope}` });
    }
  });

  it("refuses a grant without any permission with 1002", () => {
    const copy = lines.filter((l) => !l.startsWith("- ") && !l.startsWith("Tip Budget: "));
    expectCode(() => parseGrantText(copy.join("\n")), ErrorCode.INVALID_FIELD);
  });

  it("refuses a tip budget whose display does not match its base units with 3001", () => {
    const mint = testKey("mint").address;
    for (const display of ["6", "5.0", "05", "0.5", "5000000"]) {
      expectCode(
        () =>
          parseGrantText(
            withLine(
              "Tip Budget: ",
              `Tip Budget: ${display} of token ${mint} (5000000 base units, 6 decimals)`,
            ),
          ),
        ErrorCode.GRANT_TEXT_MALFORMED,
      );
    }
    expectCode(
      () =>
        parseGrantText(
          withLine(
            "Tip Budget: ",
            `Tip Budget: 5 of token ${mint} (5000000 base units, 06 decimals)`,
          ),
        ),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
  });

  it("refuses a malformed tip budget line with 3001", () => {
    for (const line of [
      "Tip Budget: 5 of token 0OIl (5000000 base units, 6 decimals)",
      "Tip Budget: 5 tokens",
      `Tip Budget: -5 of token ${testKey("mint").address} (-5000000 base units, 6 decimals)`,
    ]) {
      expectCode(
        () => parseGrantText(withLine("Tip Budget: ", line)),
        ErrorCode.GRANT_TEXT_MALFORMED,
      );
    }
  });

  it("refuses tip budgets out of range with 3010", () => {
    const mint = testKey("mint").address;
    for (const line of [
      `Tip Budget: 0 of token ${mint} (0 base units, 6 decimals)`,
      `Tip Budget: 18446744073709.551616 of token ${mint} (18446744073709551616 base units, 6 decimals)`,
      `Tip Budget: 0.000000000000000005 of token ${mint} (5 base units, 19 decimals)`,
    ]) {
      expectCode(
        () => parseGrantText(withLine("Tip Budget: ", line)),
        ErrorCode.GRANT_LIMITS_INVALID,
      );
    }
    const max = parseGrantText(
      withLine(
        "Tip Budget: ",
        `Tip Budget: 18446744073709.551615 of token ${mint} (18446744073709551615 base units, 6 decimals)`,
      ),
    );
    expect(max.tipBudget?.amount).toBe(U64_MAX.toString());
  });

  it("refuses a tip budget mint of the wrong length with 1008", () => {
    const short = toBase58(new Uint8Array(31).fill(7));
    expectCode(
      () =>
        parseGrantText(
          withLine(
            "Tip Budget: ",
            `Tip Budget: 5 of token ${short} (5000000 base units, 6 decimals)`,
          ),
        ),
      ErrorCode.INVALID_LENGTH,
    );
  });

  it("refuses a tip budget without the tip scope, and the tip scope without a budget, with 3010", () => {
    const e = expectCode(
      () => parseGrantText(withLine("- tip:", null)),
      ErrorCode.GRANT_LIMITS_INVALID,
    );
    expect(e.context).toEqual({ reason: "a tip budget without the tip scope" });
    const e2 = expectCode(
      () => parseGrantText(withLine("Tip Budget: ", null)),
      ErrorCode.GRANT_LIMITS_INVALID,
    );
    expect(e2.context).toEqual({ reason: "the tip scope needs a tip budget" });
  });

  it("refuses another version with 1007", () => {
    const e = expectCode(
      () => parseGrantText(withLine("Version: ", "Version: 2")),
      ErrorCode.UNSUPPORTED_VERSION,
    );
    expect(e.context).toEqual({ version: "2" });
    expectCode(
      () => parseGrantText(withLine("Version: ", "Version: 01")),
      ErrorCode.UNSUPPORTED_VERSION,
    );
  });

  it("refuses a short nonce with 3009 and a long one with 1003", () => {
    const short = toBase58(new Uint8Array(15).fill(9));
    const e = expectCode(
      () => parseGrantText(withLine("Nonce: ", `Nonce: ${short}`)),
      ErrorCode.GRANT_NONCE_TOO_SHORT,
    );
    expect(e.context).toEqual({ minBytes: 16, actualBytes: 15 });
    const long = toBase58(new Uint8Array(65).fill(9));
    const e2 = expectCode(
      () => parseGrantText(withLine("Nonce: ", `Nonce: ${long}`)),
      ErrorCode.FIELD_TOO_LARGE,
    );
    expect(e2.context).toEqual({ field: "nonce", max: 64, actual: 65 });
    expect(
      parseGrantText(withLine("Nonce: ", `Nonce: ${toBase58(new Uint8Array(64).fill(9))}`)).nonce,
    ).toBe(toBase58(new Uint8Array(64).fill(9)));
  });

  it("refuses a nonce that is not base58 with 1004", () => {
    expectCode(
      () => parseGrantText(withLine("Nonce: ", "Nonce: 0OIl0OIl0OIl0OIl0OIl")),
      ErrorCode.INVALID_BASE58,
    );
    expectCode(() => parseGrantText(withLine("Nonce: ", "Nonce: ")), ErrorCode.INVALID_BASE58);
  });

  it("refuses times that are not canonical ISO 8601 UTC with milliseconds with 3001", () => {
    for (const value of [
      "2026-11-26T12:00:00Z",
      "2026-11-26T12:00:00.000+00:00",
      "2026-11-26 12:00:00.000Z",
      "1764158400000",
      "2026-02-30T12:00:00.000Z",
      "2026-11-26T24:00:00.000Z",
      "+02026-11-26T12:00:00.000Z",
    ]) {
      expectCode(
        () => parseGrantText(withLine("Issued At: ", `Issued At: ${value}`)),
        ErrorCode.GRANT_TEXT_MALFORMED,
      );
    }
  });

  it("refuses a window that starts before issuance or does not last, with 1002", () => {
    const e = expectCode(
      () => parseGrantText(withLine("Not Before: ", "Not Before: 2026-11-26T11:59:59.999Z")),
      ErrorCode.INVALID_FIELD,
    );
    expect(e.context).toMatchObject({ field: "notBefore" });
    const e2 = expectCode(
      () =>
        parseGrantText(withLine("Expiration Time: ", "Expiration Time: 2026-11-26T12:00:00.000Z")),
      ErrorCode.INVALID_FIELD,
    );
    expect(e2.context).toMatchObject({ field: "expirationTime" });
  });

  it("refuses a bad wallet, session key or encryption key with 1004 or 1008", () => {
    expectCode(() => parseGrantText(withLineAt(1, "not-a-wallet")), ErrorCode.INVALID_BASE58);
    expectCode(
      () => parseGrantText(withLineAt(1, toBase58(new Uint8Array(33)))),
      ErrorCode.INVALID_LENGTH,
    );
    expectCode(
      () =>
        parseGrantText(
          withLine("Session Key: ", `Session Key: ${toBase58(new Uint8Array(31).fill(1))}`),
        ),
      ErrorCode.INVALID_LENGTH,
    );
    expectCode(
      () => parseGrantText(withLine("Encryption Key: ", "Encryption Key: 0x1234")),
      ErrorCode.INVALID_BASE58,
    );
  });

  it("refuses an invalid domain, URI, chain or network with 1002", () => {
    const header = lines[0]?.replace("app.sesame.test", "App.Sesame.Test") as string;
    const cases: [string, string][] = [
      [header, "domain"],
      [(lines[0] as string).replace("app.sesame.test", "app..test"), "domain"],
      [(lines[0] as string).replace("app.sesame.test", ""), "domain"],
      ["URI: https://app.sesame.test/a b", "uri"],
      ["URI: //app.sesame.test/", "uri"],
      ["Chain: ethereum:1", "chain"],
      ["Chain: solana:", "chain"],
      ["Network: Sesame-Test", "network"],
      ["Network: -sesame", "network"],
    ];
    for (const [line, field] of cases) {
      const prefix = line.startsWith("URI")
        ? "URI: "
        : line.startsWith("Chain")
          ? "Chain: "
          : line.startsWith("Network")
            ? "Network: "
            : null;
      const text = prefix === null ? withLineAt(0, line) : withLine(prefix, line);
      const e = expectCode(() => parseGrantText(text), ErrorCode.INVALID_FIELD);
      expect(e.context).toMatchObject({ field });
    }
  });
});

describe("validateGrant", () => {
  it("returns a frozen copy, with frozen scopes and limits", () => {
    const g = validateGrant(input({}));
    expect(g).toEqual(base.grant);
    expect(Object.isFrozen(g)).toBe(true);
    expect(Object.isFrozen(g.scopes)).toBe(true);
    expect(Object.isFrozen(g.limits)).toBe(true);
    expect(Object.isFrozen(g.limits.post)).toBe(true);
    expect(Object.isFrozen(g.tipBudget)).toBe(true);
  });

  it("refuses a non-object with 1002 and another version with 1007", () => {
    expectCode(() => validateGrant(null), ErrorCode.INVALID_FIELD);
    expectCode(() => validateGrant("grant"), ErrorCode.INVALID_FIELD);
    expectCode(() => validateGrant(input({ version: 2 })), ErrorCode.UNSUPPORTED_VERSION);
    expectCode(() => validateGrant(input({ version: "1" })), ErrorCode.UNSUPPORTED_VERSION);
  });

  it("refuses a small-order X25519 encryption key in any encoding with 2003", () => {
    for (const entry of X25519_SMALL_ORDER_ENCODINGS) {
      const high = Uint8Array.from(entry);
      high[31] = (high[31] as number) | 0x80;
      for (const key of [entry, high]) {
        const e = expectCode(
          () => validateGrant(input({ encryptionKey: toBase58(key) })),
          ErrorCode.SMALL_ORDER_PUBLIC_KEY,
        );
        expect(e.context).toEqual({ publicKey: toBase58(key) });
      }
    }
  });

  it("refuses hostile objects as version or scope with 1007 or 1002, not a TypeError", () => {
    const version = expectCode(
      () => validateGrant(input({ version: { toString: 1, valueOf: 1 } })),
      ErrorCode.UNSUPPORTED_VERSION,
    );
    expect(version.context).toEqual({ version: "an object" });
    const scope = expectCode(
      () => validateGrant(input({ scopes: ["post", { toString: 1 }] })),
      ErrorCode.INVALID_FIELD,
    );
    expect(scope.context).toEqual({ field: "scopes", reason: "unknown scope an object" });
  });

  it("refuses a non-string or oversized field with 1002 or 1003", () => {
    expectCode(() => validateGrant(input({ statement: 5 })), ErrorCode.INVALID_FIELD);
    expectCode(() => validateGrant(input({ device: "d".repeat(65) })), ErrorCode.FIELD_TOO_LARGE);
    expect(validateGrant(input({ device: "d".repeat(64) })).device).toBe("d".repeat(64));
    expectCode(
      () => validateGrant(input({ uri: `https://${"a".repeat(505)}` })),
      ErrorCode.FIELD_TOO_LARGE,
    );
    expectCode(() => validateGrant(input({ network: "n".repeat(64) })), ErrorCode.FIELD_TOO_LARGE);
  });

  it("refuses scopes that are missing, empty, unknown, duplicated or out of order with 1002", () => {
    for (const scopes of [
      undefined,
      "post",
      [],
      ["post", "admin"],
      ["post", "post"],
      ["reply", "post"],
    ]) {
      const e = expectCode(() => validateGrant(input({ scopes })), ErrorCode.INVALID_FIELD);
      expect(e.context).toMatchObject({ field: "scopes" });
    }
  });

  it("refuses limits that are not an object with 1002", () => {
    expectCode(() => validateGrant(input({ limits: null })), ErrorCode.INVALID_FIELD);
  });

  it("refuses a limit for a scope not granted, or a granted scope without limits, with 3010", () => {
    const limits = { ...base.grant.limits, admin: { total: 1, perHour: 1 } };
    expectCode(() => validateGrant(input({ limits })), ErrorCode.GRANT_LIMITS_INVALID);
    const { post: _post, ...withoutPost } = base.grant.limits;
    const e = expectCode(
      () => validateGrant(input({ limits: withoutPost })),
      ErrorCode.GRANT_LIMITS_INVALID,
    );
    expect(e.context).toEqual({ reason: "scope post has no limits entry" });
    expectCode(
      () => validateGrant(input({ scopes: ["post"], limits: base.grant.limits, tipBudget: null })),
      ErrorCode.GRANT_LIMITS_INVALID,
    );
  });

  it("refuses counts that are not null or integers from 1, with 3010", () => {
    for (const total of [0, -1, 1.5, "5", undefined, 1_000_001, Number.NaN]) {
      expectCode(
        () =>
          validateGrant(input({ limits: { ...base.grant.limits, post: { total, perHour: 1 } } })),
        ErrorCode.GRANT_LIMITS_INVALID,
      );
    }
  });

  it("refuses a tip budget with a bad amount or decimals with 3010", () => {
    const tip = base.grant.tipBudget;
    for (const tipBudget of [
      { ...tip, amount: 5 },
      { ...tip, amount: "01" },
      { ...tip, amount: "1.5" },
      { ...tip, decimals: -1 },
      { ...tip, decimals: 1.5 },
    ]) {
      expectCode(() => validateGrant(input({ tipBudget })), ErrorCode.GRANT_LIMITS_INVALID);
    }
    expectCode(
      () => validateGrant(input({ tipBudget: { ...tip, mint: "x0" } })),
      ErrorCode.INVALID_BASE58,
    );
  });

  it("treats a missing tip budget without the tip scope as none", () => {
    const g = validateGrant(
      input({ scopes: ["post"], limits: { post: { total: 1, perHour: 1 } }, tipBudget: undefined }),
    );
    expect(g.tipBudget).toBeNull();
  });

  it("refuses timestamps that are not integer milliseconds within year 9999 with 1002", () => {
    for (const issuedAt of [
      -1,
      1.5,
      "0",
      GRANT_LIMITS.maxTimestamp + 1,
      Number.MAX_SAFE_INTEGER + 2,
    ]) {
      const e = expectCode(() => validateGrant(input({ issuedAt })), ErrorCode.INVALID_FIELD);
      expect(e.context).toMatchObject({ field: "issuedAt" });
    }
    const last = validateGrant(
      input({ issuedAt: 0, notBefore: 0, expirationTime: GRANT_LIMITS.maxTimestamp }),
    );
    expect(grantToText(last)).toContain("Expiration Time: 9999-12-31T23:59:59.999Z");
    expect(parseGrantText(grantToText(last))).toEqual(last);
  });

  it("refuses a nonce that is not a string or is absurdly long with 1004", () => {
    expectCode(() => validateGrant(input({ nonce: 7 })), ErrorCode.INVALID_BASE58);
    expectCode(() => validateGrant(input({ nonce: "" })), ErrorCode.INVALID_BASE58);
    expectCode(() => validateGrant(input({ nonce: "2".repeat(101) })), ErrorCode.INVALID_BASE58);
  });

  it("accepts a grant whose window starts after it was issued", () => {
    const g = validateGrant(input({ notBefore: T0 + DAY, expirationTime: T0 + 2 * DAY }));
    expect(parseGrantText(grantToText(g))).toEqual(g);
  });

  it("keeps the first error when several fields are bad (version before domain)", () => {
    const e = errorOf(() => validateGrant(input({ version: 9, domain: "BAD" })));
    expect(e.code).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });
});

describe("isScope", () => {
  it("knows exactly the seven scopes", () => {
    for (const s of SCOPES) expect(isScope(s)).toBe(true);
    for (const s of ["unreact", "admin", "", "POST", 1, null]) expect(isScope(s)).toBe(false);
    expect(SCOPES).toEqual(["post", "reply", "react", "follow", "profile", "dm", "tip"]);
  });
});

describe("formatUnits", () => {
  it("places the decimal point and drops trailing zeros", () => {
    const cases: [string, number, string][] = [
      ["5250000", 6, "5.25"],
      ["5000000", 6, "5"],
      ["1", 6, "0.000001"],
      ["1", 18, "0.000000000000000001"],
      ["123", 0, "123"],
      ["100", 2, "1"],
      ["105", 2, "1.05"],
      ["10", 1, "1"],
      ["999999", 6, "0.999999"],
      ["18446744073709551615", 9, "18446744073.709551615"],
      ["18446744073709551615", 18, "18.446744073709551615"],
    ];
    for (const [amount, decimals, expected] of cases) {
      expect(formatUnits(amount, decimals)).toBe(expected);
    }
  });

  it("is read back to the same base units (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: U64_MAX }),
        fc.integer({ min: 0, max: 18 }),
        (amount, decimals) => {
          const shown = formatUnits(amount.toString(), decimals);
          expect(shown).toMatch(/^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/);
          const [whole, fraction = ""] = shown.split(".");
          const back =
            BigInt(whole as string) * 10n ** BigInt(decimals) +
            BigInt(fraction.padEnd(decimals, "0") || "0");
          expect(back).toBe(amount);
        },
      ),
    );
  });
});

describe("Grant type", () => {
  it("exposes the fixture grant's fields as parsed from text", () => {
    const g: Grant = parseGrantText(base.text);
    expect(g.scopes).toEqual(SCOPES);
    expect(g.tipBudget).toEqual({ mint: testKey("mint").address, amount: "5000000", decimals: 6 });
    expect(g.expirationTime - g.notBefore).toBe(7 * DAY);
  });
});
