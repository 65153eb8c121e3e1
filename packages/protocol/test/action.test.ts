import { sha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACTION_KINDS,
  ACTION_LIMITS,
  type ActionKind,
  type ActionPayload,
  actionIdOf,
  actionIdOfBytes,
  actionSigningBytes,
  decodeSignedAction,
  SCOPE_OF_KIND,
  validateActionPayload,
} from "../src/action.js";
import { canonicalJson, concatBytes, toBase58, utf8 } from "../src/encoding.js";
import { ErrorCode } from "../src/errors.js";
import { b58, bodyOf, expectCode, OTHER_WALLET, payloadOf, raw } from "./helpers.js";

const SIG = b58("a signature", 64);

/** A payload of `kind` with its body fields replaced. */
function withBody(kind: ActionKind, fields: Record<string, unknown>): Record<string, unknown> {
  const p = raw(payloadOf({ kind }));
  return { ...p, body: { ...p.body, ...fields } };
}

/** Asserts the payload is accepted and comes back equal to its input. */
function accepts(value: Record<string, unknown>) {
  expect(validateActionPayload(value)).toEqual(value);
}

function refuses(value: unknown, code: ErrorCode, field?: string) {
  const e = expectCode(() => validateActionPayload(value), code);
  if (field !== undefined) expect(e.context).toMatchObject({ field });
  return e;
}

const wallets = (n: number) => Array.from({ length: n }, (_, i) => b58(`mention ${i}`));
const copies = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    key: b58(`copy key ${i}`),
    ephemeral: b58(`copy eph ${i}`),
    ciphertext: "AAEC",
  }));

describe("validateActionPayload accepts every kind", () => {
  it.each(ACTION_KINDS)("accepts a valid %s and returns an equal new payload", (kind) => {
    const p = payloadOf({ kind });
    const input = raw(p);
    const checked = validateActionPayload(input);
    expect(checked).toEqual(p);
    expect(checked).not.toBe(input);
    expect(checked.body).not.toBe(input.body);
  });

  it.each(ACTION_KINDS)("decodeSignedAction accepts a signed %s", (kind) => {
    const p = payloadOf({ kind });
    const signed = decodeSignedAction({ payload: raw(p), signature: SIG });
    expect(signed).toEqual({ payload: p, signature: SIG });
  });

  it("maps each kind to the scope it counts against", () => {
    expect(SCOPE_OF_KIND).toEqual({
      post: "post",
      reply: "reply",
      react: "react",
      unreact: "react",
      follow: "follow",
      unfollow: "follow",
      profile: "profile",
      dm: "dm",
      tip: "tip",
    });
  });
});

describe("validateActionPayload refuses bad envelopes", () => {
  it("refuses a non-object or array with 1002", () => {
    for (const v of [null, "post", 5, [], undefined])
      refuses(v, ErrorCode.INVALID_FIELD, "payload");
  });

  it("refuses unknown fields with 1009, naming the path", () => {
    refuses({ ...raw(payloadOf()), extra: 1 }, ErrorCode.UNKNOWN_FIELD, "payload.extra");
    refuses(withBody("post", { html: "<b>" }), ErrorCode.UNKNOWN_FIELD, "payload.body.html");
    const dm = raw(payloadOf({ kind: "dm" }));
    (dm.body.copies as Record<string, unknown>[])[1] = { ...copies(1)[0], nonce: "x" };
    refuses(dm, ErrorCode.UNKNOWN_FIELD, "payload.body.copies[1].nonce");
    refuses(
      JSON.parse(`{"__proto__":1,${JSON.stringify(raw(payloadOf())).slice(1)}`),
      ErrorCode.UNKNOWN_FIELD,
    );
  });

  it("refuses missing fields with 1002", () => {
    const { seq: _seq, ...noSeq } = raw(payloadOf());
    refuses(noSeq, ErrorCode.INVALID_FIELD, "payload.seq");
    const { mentions: _m, ...body } = raw(payloadOf()).body;
    refuses({ ...raw(payloadOf()), body }, ErrorCode.INVALID_FIELD, "payload.body.mentions");
  });

  it("refuses an unknown kind with 1006", () => {
    const e = refuses({ ...raw(payloadOf()), kind: "delete" }, ErrorCode.UNKNOWN_KIND);
    expect(e.context).toEqual({ kind: "delete" });
    refuses({ ...raw(payloadOf()), kind: 1 }, ErrorCode.UNKNOWN_KIND);
    const long = refuses({ ...raw(payloadOf()), kind: "x".repeat(1000) }, ErrorCode.UNKNOWN_KIND);
    expect((long.context as { kind: string }).kind.length).toBe(32);
  });

  it("refuses a hostile object as kind or version with 1006 or 1007, describing it by type", () => {
    for (const hostile of [{ toString: 1 }, { valueOf: 1 }, { toString: 1, valueOf: 1 }]) {
      const kind = refuses({ ...raw(payloadOf()), kind: hostile }, ErrorCode.UNKNOWN_KIND);
      expect(kind.context).toEqual({ kind: "an object" });
      const v = refuses({ ...raw(payloadOf()), v: hostile }, ErrorCode.UNSUPPORTED_VERSION);
      expect(v.context).toEqual({ version: "an object" });
    }
    const list = refuses({ ...raw(payloadOf()), kind: [{ toString: 1 }] }, ErrorCode.UNKNOWN_KIND);
    expect(list.context).toEqual({ kind: "an array of length 1" });
  });

  it("refuses another version with 1007", () => {
    for (const v of [2, 0, "1", null])
      refuses({ ...raw(payloadOf()), v }, ErrorCode.UNSUPPORTED_VERSION);
  });

  it("refuses a bad grant id with 1004 or 1008", () => {
    refuses({ ...raw(payloadOf()), grant: "0" }, ErrorCode.INVALID_BASE58, "payload.grant");
    refuses(
      { ...raw(payloadOf()), grant: b58("g", 31) },
      ErrorCode.INVALID_LENGTH,
      "payload.grant",
    );
  });

  it("refuses seq and ord outside 1..2^53-1 with 1002", () => {
    for (const bad of [0, -1, 1.5, "1", Number.MAX_SAFE_INTEGER + 1, null]) {
      refuses({ ...raw(payloadOf()), seq: bad }, ErrorCode.INVALID_FIELD, "payload.seq");
      refuses({ ...raw(payloadOf()), ord: bad }, ErrorCode.INVALID_FIELD, "payload.ord");
    }
    const max = validateActionPayload({
      ...raw(payloadOf()),
      seq: Number.MAX_SAFE_INTEGER,
      ord: Number.MAX_SAFE_INTEGER,
    });
    expect(max.seq).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("refuses a timestamp that is not non-negative integer milliseconds with 1002", () => {
    for (const ts of [-1, 1.5, "0", null])
      refuses({ ...raw(payloadOf()), ts }, ErrorCode.INVALID_FIELD, "payload.ts");
    expect(validateActionPayload({ ...raw(payloadOf()), ts: 0 }).ts).toBe(0);
  });

  it("refuses a body that is not an object with 1002", () => {
    for (const body of [null, [], "hi"]) {
      refuses({ ...raw(payloadOf()), body }, ErrorCode.INVALID_FIELD, "payload.body");
    }
  });
});

describe("post and reply bodies", () => {
  it("accepts text of exactly 1024 UTF-8 bytes and refuses 1025 with 1003", () => {
    expect(validateActionPayload(withBody("post", { text: "a".repeat(1024) })).body).toMatchObject({
      text: "a".repeat(1024),
    });
    const e = refuses(withBody("post", { text: "a".repeat(1025) }), ErrorCode.FIELD_TOO_LARGE);
    expect(e.context).toEqual({ field: "payload.body.text", max: 1024, actual: 1025 });
  });

  it("counts multibyte characters in UTF-8 bytes, not UTF-16 units", () => {
    accepts(withBody("post", { text: `${"€".repeat(341)}a` }));
    const e = refuses(withBody("post", { text: "€".repeat(342) }), ErrorCode.FIELD_TOO_LARGE);
    expect(e.context).toMatchObject({ actual: 1026 });
    accepts(withBody("reply", { text: "😀".repeat(256) }));
    refuses(withBody("reply", { text: "😀".repeat(257) }), ErrorCode.FIELD_TOO_LARGE);
  });

  it("refuses empty or non-string text with 1002", () => {
    refuses(withBody("post", { text: "" }), ErrorCode.INVALID_FIELD, "payload.body.text");
    refuses(withBody("post", { text: 5 }), ErrorCode.INVALID_FIELD, "payload.body.text");
  });

  it("refuses lone surrogates with 1002", () => {
    for (const text of ["\ud800", "a\udc00b", "😀".slice(0, 1)]) {
      refuses(withBody("post", { text }), ErrorCode.INVALID_FIELD, "payload.body.text");
    }
  });

  it("accepts up to 4 links and refuses 5 with 1003", () => {
    const links = Array.from({ length: 5 }, (_, i) => `https://example.com/${i}`);
    accepts(withBody("post", { links: links.slice(0, 4) }));
    const e = refuses(withBody("post", { links }), ErrorCode.FIELD_TOO_LARGE);
    expect(e.context).toEqual({ field: "payload.body.links", max: 4, actual: 5 });
  });

  it("accepts an http(s) URL of up to 512 bytes and refuses anything else", () => {
    const long = `https://example.com/${"a".repeat(512 - 20)}`;
    expect(long.length).toBe(512);
    accepts(withBody("post", { links: [long, "http://x"] }));
    refuses(
      withBody("post", { links: [`${long}a`] }),
      ErrorCode.FIELD_TOO_LARGE,
      "payload.body.links[0]",
    );
    for (const url of ["ftp://example.com", "javascript:alert(1)", "https://a b", "https://", ""]) {
      refuses(
        withBody("post", { links: ["https://ok", url] }),
        ErrorCode.INVALID_FIELD,
        "payload.body.links[1]",
      );
    }
    refuses(
      withBody("post", { links: "https://x" }),
      ErrorCode.INVALID_FIELD,
      "payload.body.links",
    );
  });

  it("accepts up to 16 distinct mentions and refuses 17 or duplicates", () => {
    accepts(withBody("post", { mentions: wallets(16) }));
    refuses(
      withBody("post", { mentions: wallets(17) }),
      ErrorCode.FIELD_TOO_LARGE,
      "payload.body.mentions",
    );
    refuses(
      withBody("post", { mentions: [OTHER_WALLET, OTHER_WALLET] }),
      ErrorCode.INVALID_FIELD,
      "payload.body.mentions",
    );
    refuses(
      withBody("post", { mentions: ["0x"] }),
      ErrorCode.INVALID_BASE58,
      "payload.body.mentions[0]",
    );
  });

  it("refuses a reply without a valid parent id", () => {
    refuses(
      withBody("reply", { parent: "nope!" }),
      ErrorCode.INVALID_BASE58,
      "payload.body.parent",
    );
    refuses(
      withBody("reply", { parent: b58("p", 16) }),
      ErrorCode.INVALID_LENGTH,
      "payload.body.parent",
    );
  });
});

describe("react, follow and profile bodies", () => {
  it("accepts a reaction of up to 32 bytes and refuses more, empty or a bad target", () => {
    accepts(withBody("react", { reaction: "x".repeat(32) }));
    refuses(withBody("unreact", { reaction: "x".repeat(33) }), ErrorCode.FIELD_TOO_LARGE);
    refuses(withBody("react", { reaction: "" }), ErrorCode.INVALID_FIELD, "payload.body.reaction");
    refuses(withBody("react", { reaction: "\udbff" }), ErrorCode.INVALID_FIELD);
    refuses(
      withBody("react", { target: b58("t", 33) }),
      ErrorCode.INVALID_LENGTH,
      "payload.body.target",
    );
  });

  it("refuses a follow or unfollow of something that is not a wallet", () => {
    refuses(
      withBody("follow", { target: "@bob" }),
      ErrorCode.INVALID_BASE58,
      "payload.body.target",
    );
    refuses(withBody("unfollow", { target: b58("t", 64) }), ErrorCode.INVALID_LENGTH);
  });

  it("accepts an empty profile and refuses fields over their limits", () => {
    accepts(withBody("profile", { displayName: "", bio: "", avatarUrl: "" }));
    accepts(withBody("profile", { displayName: "d".repeat(64), bio: "b".repeat(280) }));
    refuses(withBody("profile", { displayName: "d".repeat(65) }), ErrorCode.FIELD_TOO_LARGE);
    refuses(
      withBody("profile", { bio: "é".repeat(141) }),
      ErrorCode.FIELD_TOO_LARGE,
      "payload.body.bio",
    );
    refuses(
      withBody("profile", { avatarUrl: "data:image/png;base64,AA" }),
      ErrorCode.INVALID_FIELD,
    );
    refuses(withBody("profile", { displayName: "\ud83d" }), ErrorCode.INVALID_FIELD);
  });
});

describe("dm bodies", () => {
  it("accepts 1 to 16 copies for distinct keys", () => {
    accepts(withBody("dm", { copies: copies(1) }));
    accepts(withBody("dm", { copies: copies(16) }));
  });

  it("refuses no copies, 17 copies or two copies for one key", () => {
    refuses(withBody("dm", { copies: [] }), ErrorCode.INVALID_FIELD, "payload.body.copies");
    refuses(
      withBody("dm", { copies: copies(17) }),
      ErrorCode.FIELD_TOO_LARGE,
      "payload.body.copies",
    );
    const [c] = copies(1);
    refuses(
      withBody("dm", { copies: [c, { ...c, ephemeral: b58("other eph") }] }),
      ErrorCode.INVALID_FIELD,
      "payload.body.copies",
    );
    refuses(withBody("dm", { copies: {} }), ErrorCode.INVALID_FIELD, "payload.body.copies");
  });

  it("requires base64url ciphertext of at most 4096 characters", () => {
    const [c] = copies(1);
    accepts(withBody("dm", { copies: [{ ...c, ciphertext: "A".repeat(4096) }] }));
    refuses(
      withBody("dm", { copies: [{ ...c, ciphertext: "A".repeat(4097) }] }),
      ErrorCode.FIELD_TOO_LARGE,
    );
    for (const ciphertext of ["AAE=", "ab+/", "A", "AA AA"]) {
      refuses(
        withBody("dm", { copies: [{ ...c, ciphertext }] }),
        ErrorCode.INVALID_BASE64URL,
        "payload.body.copies[0].ciphertext",
      );
    }
    refuses(withBody("dm", { copies: [{ ...c, ciphertext: "" }] }), ErrorCode.INVALID_FIELD);
  });

  it("requires 32-byte keys and a 16-byte message id", () => {
    const [c] = copies(1);
    refuses(withBody("dm", { copies: [{ ...c, key: b58("k", 31) }] }), ErrorCode.INVALID_LENGTH);
    refuses(
      withBody("dm", { copies: [{ ...c, ephemeral: b58("e", 33) }] }),
      ErrorCode.INVALID_LENGTH,
      "payload.body.copies[0].ephemeral",
    );
    refuses(
      withBody("dm", { copies: [{ ...c, ephemeral: "2".repeat(101) }] }),
      ErrorCode.INVALID_BASE58,
    );
    refuses(withBody("dm", { copies: [{ ...c, ephemeral: 7 }] }), ErrorCode.INVALID_BASE58);
    refuses(withBody("dm", { copies: [{ ...c, ephemeral: "0OIl" }] }), ErrorCode.INVALID_BASE58);
    refuses(
      withBody("dm", { messageId: b58("m", 15) }),
      ErrorCode.INVALID_LENGTH,
      "payload.body.messageId",
    );
    refuses(withBody("dm", { to: "nobody@example" }), ErrorCode.INVALID_BASE58, "payload.body.to");
  });
});

describe("tip bodies", () => {
  it("accepts amounts from 1 to the u64 maximum", () => {
    for (const amount of ["1", "18446744073709551615"]) {
      expect(validateActionPayload(withBody("tip", { amount })).body).toMatchObject({ amount });
    }
  });

  it("refuses amounts that are not a positive u64 decimal string with 1002", () => {
    for (const amount of [
      "0",
      "01",
      "-1",
      "1.5",
      "1e3",
      "18446744073709551616",
      "99999999999999999999",
      5,
      "",
    ]) {
      refuses(withBody("tip", { amount }), ErrorCode.INVALID_FIELD, "payload.body.amount");
    }
  });

  it("refuses bad post, mint, recipient or transaction ids", () => {
    refuses(withBody("tip", { post: "x" }), ErrorCode.INVALID_LENGTH, "payload.body.post");
    refuses(withBody("tip", { mint: "0" }), ErrorCode.INVALID_BASE58, "payload.body.mint");
    refuses(withBody("tip", { to: b58("to", 31) }), ErrorCode.INVALID_LENGTH, "payload.body.to");
    refuses(
      withBody("tip", { transaction: b58("tx", 32) }),
      ErrorCode.INVALID_LENGTH,
      "payload.body.transaction",
    );
  });
});

describe("decodeSignedAction", () => {
  it("refuses unknown wire fields with 1009 and missing ones with 1002", () => {
    const payload = raw(payloadOf());
    expectCode(
      () => decodeSignedAction({ payload, signature: SIG, id: "x" }),
      ErrorCode.UNKNOWN_FIELD,
    );
    expectCode(() => decodeSignedAction({ payload }), ErrorCode.INVALID_FIELD);
    expectCode(() => decodeSignedAction("action"), ErrorCode.INVALID_FIELD);
  });

  it("refuses a signature that is not 64 bytes of base58", () => {
    const payload = raw(payloadOf());
    expectCode(
      () => decodeSignedAction({ payload, signature: b58("s", 63) }),
      ErrorCode.INVALID_LENGTH,
    );
    expectCode(() => decodeSignedAction({ payload, signature: "0" }), ErrorCode.INVALID_BASE58);
    expectCode(() => decodeSignedAction({ payload, signature: 1 }), ErrorCode.INVALID_BASE58);
  });

  it("refuses a bad payload with the payload's code", () => {
    expectCode(
      () => decodeSignedAction({ payload: { ...raw(payloadOf()), kind: "nope" }, signature: SIG }),
      ErrorCode.UNKNOWN_KIND,
    );
  });
});

/** The same JSON value with the keys of every object in the given order (recursively). */
function reorder(value: unknown, order: (keys: string[]) => string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => reorder(v, order));
  if (typeof value !== "object" || value === null) return value;
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(order(Object.keys(obj)).map((k) => [k, reorder(obj[k], order)]));
}

describe("actionSigningBytes", () => {
  it.each(ACTION_KINDS)("for %s is 0xFF, the kind's prefix, then the canonical JSON", (kind) => {
    const p = payloadOf({ kind });
    const bytes = actionSigningBytes(p);
    const prefix = utf8(`sesame/1/action/${kind}\n`);
    expect(bytes[0]).toBe(0xff);
    expect([...bytes.subarray(1, 1 + prefix.length)]).toEqual([...prefix]);
    expect(bytes).toEqual(concatBytes(Uint8Array.of(0xff), prefix, utf8(canonicalJson(p))));
  });

  it("writes the payload with sorted keys and no whitespace", () => {
    const p = payloadOf({ seq: 3, ord: 2, ts: 1000 });
    const json = new TextDecoder().decode(
      actionSigningBytes(p).subarray(1 + "sesame/1/action/post\n".length),
    );
    expect(json).toBe(
      `{"body":{"links":["https://example.com/a"],"mentions":["${OTHER_WALLET}"],"text":"hello"},"grant":"${p.grant}","kind":"post","ord":2,"seq":3,"ts":1000,"v":1}`,
    );
  });

  it("separates kinds: react and unreact of the same body sign different bytes", () => {
    const react = payloadOf({ kind: "react" });
    const unreact = { ...react, kind: "unreact" } as ActionPayload;
    expect(actionIdOf(react)).not.toBe(actionIdOf(unreact));
  });

  it("does not depend on the key order of the input (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ACTION_KINDS),
        fc.infiniteStream(fc.integer()),
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
        (kind, randoms, text) => {
          const body =
            kind === "post" || kind === "reply" ? { ...bodyOf(kind), text } : bodyOf(kind);
          const p = validateActionPayload(raw(payloadOf({ kind, body })));
          const it = randoms[Symbol.iterator]();
          const shuffled = reorder(p, (keys) =>
            keys
              .map((k) => [k, it.next().value as number] as const)
              .sort((a, b) => a[1] - b[1])
              .map(([k]) => k),
          );
          expect(actionSigningBytes(shuffled as ActionPayload)).toEqual(actionSigningBytes(p));
          expect(validateActionPayload(shuffled)).toEqual(p);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives the action id as base58 SHA-256 of the signing bytes", () => {
    const p = payloadOf();
    expect(actionIdOf(p)).toBe(toBase58(sha256(actionSigningBytes(p))));
    expect(actionIdOfBytes(actionSigningBytes(p))).toBe(actionIdOf(p));
  });

  it("keeps limits the verifier relies on", () => {
    expect(ACTION_LIMITS.maxTextBytes).toBe(1024);
    expect(ACTION_LIMITS.maxSignedBytes).toBe(96 * 1024);
  });
});
