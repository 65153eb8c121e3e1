/**
 * Fuzzing with fast-check: mutators of valid signed messages, a runner that counts every
 * outcome, and one target per decoder and parser of the protocol. `npm test` runs a
 * bounded number of cases (packages/protocol/test/fuzz.test.ts); `npm run fuzz` runs as
 * many as asked and prints the counts.
 *
 * Every target classifies a case as accepted, refused (with its numeric code), a crash
 * (anything thrown that is not a ProtocolError), or invalid-accepted (a decoder accepted
 * something it must not: a parse that does not round-trip, or a verification that passed
 * for a message nobody signed).
 */
import canonicalize from "canonicalize";
import fc from "fast-check";
import { nodeEd25519 } from "../src/crypto/node-crypto.js";
import {
  type ActionPayload,
  actionIdOf,
  canonicalJson,
  decodeSignedAction,
  decodeSignedRequest,
  type EquivocationProof,
  fromBase58,
  fromBase64url,
  grantToText,
  isProtocolError,
  parseGrantText,
  parseRevocationText,
  revocationToText,
  SCOPE_OF_KIND,
  type SignedAction,
  toBase58,
  toBase64url,
  verifyAction,
  verifyEquivocation,
  verifyGrant,
  verifyRevocation,
  verifySignedRequest,
} from "../src/index.js";
import {
  type GrantFixture,
  makeGrant,
  signAction,
  signRequest,
  signRevocation,
  T0,
  TEST_CONTEXT,
  testEncryptionKey,
  testNonce,
} from "./fixtures.js";

// ---------------------------------------------------------------------------------------
// Outcomes and the runner

export type Outcome =
  | { readonly kind: "accepted" }
  | { readonly kind: "refused"; readonly code: number }
  /** An HTTP answer of 500 or more. */
  | { readonly kind: "5xx"; readonly detail: string }
  | { readonly kind: "crash"; readonly detail: string }
  | { readonly kind: "invalid"; readonly detail: string };

export interface FuzzTarget<T> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  check(input: T): Outcome | Promise<Outcome>;
  /** After all cases: how many stored messages do not verify (targets with storage). */
  finish?(): Promise<{ readonly storedInvalid: number; readonly stored: number }>;
}

export interface Tally {
  readonly target: string;
  cases: number;
  accepted: number;
  readonly refused: Record<string, number>;
  crashes: number;
  fiveXx: number;
  invalidAccepted: number;
  storedInvalid: number;
  stored: number | null;
  /** The first few failing inputs, for the report. */
  readonly examples: string[];
  ms: number;
}

/** Classifies what a decoder threw: a ProtocolError is a refusal, anything else a crash. */
export function thrown(e: unknown): Outcome {
  if (isProtocolError(e)) return { kind: "refused", code: e.code };
  return { kind: "crash", detail: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

/** Runs `fn`; its return is acceptance, a ProtocolError a refusal, anything else a crash. */
export async function attempt(fn: () => unknown): Promise<Outcome> {
  try {
    await fn();
    return { kind: "accepted" };
  } catch (e) {
    return thrown(e);
  }
}

const show = (input: unknown) => {
  const s = typeof input === "string" ? input : JSON.stringify(input);
  return s === undefined ? String(input) : s.length > 400 ? `${s.slice(0, 400)}…` : s;
};

/** Runs `runs` cases of `target` in chunks (seeded, reproducible), counting every outcome. */
export async function runFuzz<T>(
  target: FuzzTarget<T>,
  options: {
    runs: number;
    seed?: number;
    chunk?: number;
    /** Cases checked at once (for targets that wait on I/O). */
    concurrency?: number;
    onProgress?: (t: Tally) => void;
  },
): Promise<Tally> {
  const tally: Tally = {
    target: target.name,
    cases: 0,
    accepted: 0,
    refused: {},
    crashes: 0,
    fiveXx: 0,
    invalidAccepted: 0,
    storedInvalid: 0,
    stored: null,
    examples: [],
    ms: 0,
  };
  const started = performance.now();
  const seed = options.seed ?? 1;
  const chunk = options.chunk ?? 1000;
  for (let round = 0; tally.cases < options.runs; round++) {
    const n = Math.min(chunk, options.runs - tally.cases);
    const inputs = fc.sample(target.arbitrary, { numRuns: n, seed: seed * 1_000_003 + round });
    const record = (input: T, outcome: Outcome) => {
      tally.cases++;
      switch (outcome.kind) {
        case "accepted":
          tally.accepted++;
          break;
        case "refused":
          tally.refused[outcome.code] = (tally.refused[outcome.code] ?? 0) + 1;
          break;
        case "5xx":
          tally.fiveXx++;
          break;
        case "crash":
          tally.crashes++;
          break;
        case "invalid":
          tally.invalidAccepted++;
          break;
      }
      if (outcome.kind !== "accepted" && outcome.kind !== "refused" && tally.examples.length < 5) {
        tally.examples.push(`${outcome.kind}: ${outcome.detail.slice(0, 600)} <- ${show(input)}`);
      }
    };
    const one = async (input: T) => {
      try {
        record(input, await target.check(input));
      } catch (e) {
        record(input, { kind: "crash", detail: `the check itself threw: ${String(e)}` });
      }
    };
    const concurrency = options.concurrency ?? 1;
    if (concurrency <= 1) {
      for (const input of inputs) await one(input);
    } else {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < inputs.length) await one(inputs[next++] as T);
        }),
      );
    }
    options.onProgress?.(tally);
  }
  if (target.finish !== undefined) {
    const { storedInvalid, stored } = await target.finish();
    tally.storedInvalid = storedInvalid;
    tally.stored = stored;
  }
  tally.ms = performance.now() - started;
  return tally;
}

export function formatTally(t: Tally): string {
  const codes = Object.entries(t.refused)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code}:${n}`)
    .join(" ");
  const stored = t.stored === null ? "" : ` stored=${t.stored}`;
  return `${t.target.padEnd(20)} cases=${t.cases} accepted=${t.accepted} refused=${t.cases - t.accepted - t.crashes - t.fiveXx - t.invalidAccepted} [${codes}] crashes=${t.crashes} 5xx=${t.fiveXx} invalid-accepted=${t.invalidAccepted}${stored} stored-invalid=${t.storedInvalid} (${(t.ms / 1000).toFixed(1)} s, ${Math.round(t.cases / (t.ms / 1000))}/s)`;
}

// ---------------------------------------------------------------------------------------
// Mutators

type Path = readonly (string | number)[];

function paths(value: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...at, i]));
  } else if (typeof value === "object" && value !== null)
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...at, k]));
  return out;
}

function setAt(value: unknown, path: Path, op: (parent: unknown, key: string | number) => void) {
  const copy = structuredClone(value);
  if (path.length === 0) return copy;
  let parent: unknown = copy;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string, unknown>)[key];
  op(parent, path[path.length - 1] as string | number);
  return copy;
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/**
 * JSON objects that break code which formats a value without checking its type: their
 * `toString`/`valueOf` is not a function (`String()` throws), or they carry prototype
 * keys. A JSON body can hold any of them where a string or number is expected.
 */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    { toString: 1 },
    { valueOf: 1 },
    { toString: 1, valueOf: 1 },
    { toString: {}, valueOf: [] },
    { toJSON: 1 },
    [{ toString: 1 }],
    JSON.parse('{"__proto__": {"toString": 1}}'),
    JSON.parse('{"constructor": {"prototype": {"toString": 1}}}'),
  ),
  fc
    .tuple(
      fc.constantFrom("toString", "valueOf", "__proto__", "constructor", "hasOwnProperty"),
      fc.jsonValue({ maxDepth: 1 }),
    )
    .map(([key, value]) => JSON.parse(`{${JSON.stringify(key)}: ${JSON.stringify(value)}}`)),
);

/** Strange values to put where a field was. */
export const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom("\ud800", "\udfff", "a\u0000b", "\u202e", "👍🏽", "e\u0301", "\ufeff", ""),
  fc.integer({ min: 0, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 0, max: 20_000 }).map((n) => "😀".repeat(n)),
  fc.integer(),
  fc.constantFrom(
    -1,
    0,
    1,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53),
    1e308,
    0.5,
    Number.MAX_SAFE_INTEGER,
    "1",
  ),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant({}),
  fc.constant([]),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(fc.constant("x"), { maxLength: 2000 }),
  fc.constantFrom({ __proto__: { admin: true } }, { constructor: { prototype: {} } }),
  { arbitrary: hostile, weight: 3 },
);

const ADDED_KEYS = [
  "extra0",
  "extra1",
  "extra2",
  "toString",
  "valueOf",
  "__proto__",
  "constructor",
];

/** Mutations of a valid JSON message, as the raw text that would be sent. */
export function mutatedJson(originals: readonly unknown[]): fc.Arbitrary<string> {
  const original = fc.constantFrom(...originals);
  // A mutation that changes nothing (an op on the root, a field added to a non-object) is
  // drawn again: the unmutated originals have their own, small share below.
  const structural = original.chain((value) =>
    fc
      .tuple(fc.constantFrom(...paths(value)), fc.nat(), weird)
      .map(([path, op, w]) => {
        switch (op % 6) {
          case 0: // drop the field
            return JSON.stringify(
              setAt(value, path, (p, k) => {
                if (Array.isArray(p)) p.splice(k as number, 1);
                else delete (p as Record<string, unknown>)[k];
              }),
            );
          case 1: // change its type or value
            return JSON.stringify(
              setAt(value, path, (p, k) => {
                (p as Record<string | number, unknown>)[k] = w;
              }),
            );
          case 2: {
            // flip one character of a string field, keeping it base58-looking
            return JSON.stringify(
              setAt(value, path, (p, k) => {
                const v = (p as Record<string | number, unknown>)[k];
                if (typeof v === "string" && v.length > 0) {
                  const i = op % v.length;
                  const c = BASE58[(BASE58.indexOf(v[i] as string) + 1 + (op % 57)) % 58] as string;
                  (p as Record<string | number, unknown>)[k] = v.slice(0, i) + c + v.slice(i + 1);
                } else if (typeof v === "number") {
                  (p as Record<string | number, unknown>)[k] = v + 1;
                }
              }),
            );
          }
          case 3: {
            // duplicate a key in the text (JSON.parse keeps the last)
            const text = JSON.stringify(value);
            const key = path[path.length - 1];
            if (typeof key !== "string") return text;
            return text.replace(`"${key}":`, `"${key}":${JSON.stringify(w) ?? "null"},"${key}":`);
          }
          case 4: // add a field, sometimes under a key every object inherits
            return JSON.stringify(
              setAt(value, path, (p, k) => {
                const v = (p as Record<string | number, unknown>)[k];
                if (typeof v === "object" && v !== null && !Array.isArray(v)) {
                  const key = ADDED_KEYS[op % ADDED_KEYS.length] as string;
                  // An own property even for "__proto__", as JSON.parse would make it.
                  Object.defineProperty(v, key, { value: w, enumerable: true, writable: true });
                }
              }),
            );
          default: // wrap in an array
            return JSON.stringify(
              setAt(value, path, (p, k) => {
                const r = p as Record<string | number, unknown>;
                r[k] = [r[k]];
              }),
            );
        }
      })
      .filter((mutated) => mutated !== JSON.stringify(value)),
  );
  const textual = fc
    .tuple(original, fc.nat(), fc.nat(), fc.string({ unit: "binary", maxLength: 4 }))
    .map(([value, at, op, insert]) => {
      const text = JSON.stringify(value);
      const i = at % (text.length + 1);
      const mutated = mutateText(text, i, op, insert);
      return mutated === text ? null : mutated;
    })
    .filter((mutated): mutated is string => mutated !== null);
  return fc.oneof(
    { arbitrary: original.map((v) => JSON.stringify(v)), weight: 1 },
    { arbitrary: structural, weight: 8 },
    { arbitrary: textual, weight: 4 },
    { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), weight: 1 },
    { arbitrary: fc.string({ unit: "binary", maxLength: 200 }), weight: 1 },
  );
}

/** One character-level change of a JSON text (the same text back when it changes nothing). */
function mutateText(text: string, i: number, op: number, insert: string): string {
  switch (op % 4) {
    case 0: // replace one character
      return text.slice(0, i) + insert + text.slice(i + 1);
    case 1: // insert
      return text.slice(0, i) + insert + text.slice(i);
    case 2: // truncate
      return text.slice(0, i);
    default: // flip a bit of one character
      return (
        text.slice(0, i) +
        String.fromCharCode(text.charCodeAt(i) ^ (1 << (op % 7))) +
        text.slice(i + 1)
      );
  }
}

/** Mutations of a human-readable signed text (grants, revocations). */
export function mutatedText(originals: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...originals), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.constantFrom(...originals), fc.nat(), fc.nat(), weird)
        .map(([text, at, op, w]) => {
          const lines = text.split("\n");
          const li = at % lines.length;
          const line = lines[li] as string;
          const ci = op % (line.length + 1);
          const s = typeof w === "string" ? w : (JSON.stringify(w) ?? "");
          switch (op % 9) {
            case 0:
              lines.splice(li, 1);
              break;
            case 1:
              lines.splice(li, 0, line);
              break;
            case 2:
              lines[li] = line.slice(0, ci) + s + line.slice(ci);
              break;
            case 3:
              lines[li] = line.replace(/\d/, String((op >> 4) % 10));
              break;
            case 4:
              lines[li] = `${line} `;
              break;
            case 5:
              lines[li] = line.replace(
                /[A-Za-z1-9]/,
                (c) => BASE58[(BASE58.indexOf(c) + 1) % 58] ?? "1",
              );
              break;
            case 6:
              return lines.join("\r\n");
            case 7:
              lines[li] = line.slice(0, ci);
              break;
            default:
              lines[li] = s;
          }
          return lines.join("\n");
        })
        .filter((mutated) => !originals.includes(mutated)),
      weight: 10,
    },
    { arbitrary: fc.string({ unit: "binary", maxLength: 300 }), weight: 1 },
  );
}

// ---------------------------------------------------------------------------------------
// The protocol's decoders and verifiers

/**
 * Anything inside that no signed payload may hold: a fraction, an unsafe integer, an
 * object that is not plain.
 */
function holdsUnsignable(value: unknown): boolean {
  if (typeof value === "number") return !Number.isSafeInteger(value);
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return true;
  return Object.values(value).some(holdsUnsignable);
}

const backend = nodeEd25519();
/** The clock every target (and the fuzzed node) runs at. */
export const FUZZ_NOW = T0 + 60_000;
const NOW = FUZZ_NOW;

/** The two grants whose messages are mutated. */
function corpus() {
  const alice = makeGrant("alice", "alice-fuzz");
  const bob = makeGrant("bob", "bob-fuzz", {
    scopes: ["post", "react"],
    limits: { post: { total: 3, perHour: 2 }, react: { total: null, perHour: 10 } },
    tipBudget: null,
  });
  return { alice, bob };
}

const { alice, bob } = corpus();
const aliceVerified = verifyGrant(
  { text: alice.text, signature: alice.signature },
  TEST_CONTEXT,
  backend,
);

/** Valid actions of every kind by a session (alice's by default), seq 1..n. */
export async function validActions(
  session: GrantFixture = alice,
  grantId?: string,
): Promise<SignedAction[]> {
  const id = grantId ?? (await aliceVerified).id;
  const target = toBase58(new Uint8Array(32).fill(3));
  const bodies: [ActionPayload["kind"], unknown][] = [
    ["post", { text: "gm ✨ and some unicode: ü 日本", links: ["https://x.test/a"], mentions: [] }],
    ["reply", { parent: target, text: "a reply", links: [], mentions: [bob.grant.wallet] }],
    ["react", { target, reaction: "like" }],
    ["unreact", { target, reaction: "like" }],
    ["follow", { target: bob.grant.wallet }],
    ["unfollow", { target: bob.grant.wallet }],
    [
      "tip",
      {
        post: target,
        to: bob.grant.wallet,
        mint: toBase58(new Uint8Array(32).fill(7)),
        amount: "1000",
        transaction: toBase58(new Uint8Array(64).fill(9)),
      },
    ],
    ["profile", { displayName: "Alice", bio: "hi", avatarUrl: "https://x.test/a.png" }],
    [
      "dm",
      {
        to: bob.grant.wallet,
        messageId: testNonce("dm fuzz"),
        copies: [
          {
            key: bob.grant.encryptionKey,
            ephemeral: testEncryptionKey("eph fuzz"),
            ciphertext: toBase64url(new Uint8Array(48).fill(5)),
          },
        ],
      },
    ],
  ];
  // Ordinals count per scope (react and unreact share one, follow and unfollow another).
  const ords = new Map<string, number>();
  return bodies.map(([kind, body], i) => {
    const scope = SCOPE_OF_KIND[kind];
    const ord = (ords.get(scope) ?? 0) + 1;
    ords.set(scope, ord);
    return signAction(session.session, {
      v: 1,
      kind,
      grant: id,
      seq: i + 1,
      ord,
      ts: NOW,
      body,
    } as ActionPayload);
  });
}

export async function protocolTargets(): Promise<FuzzTarget<unknown>[]> {
  const g = await aliceVerified;
  const actions = await validActions();
  const actionIds = new Set(actions.map((a) => actionIdOf(a.payload)));
  const revocations = [
    signRevocation(alice.wallet, {
      version: 1,
      wallet: alice.grant.wallet,
      network: TEST_CONTEXT.network,
      target: { kind: "grant", grant: g.id },
      compromisedSince: null,
      issuedAt: NOW,
      nonce: testNonce("rev fuzz 1"),
    }),
    signRevocation(alice.wallet, {
      version: 1,
      wallet: alice.grant.wallet,
      network: TEST_CONTEXT.network,
      target: { kind: "all", issuedBefore: NOW },
      compromisedSince: NOW - 1000,
      issuedAt: NOW,
      nonce: testNonce("rev fuzz 2"),
    }),
  ];
  const clash = signAction(alice.session, { ...(actions[0] as SignedAction).payload, ts: NOW + 1 });
  const proofs: EquivocationProof[] = [{ a: actions[0] as SignedAction, b: clash }];
  const proofIds = new Set([...actionIds, actionIdOf(clash.payload)]);
  const path = `/v1/wallets/${alice.grant.wallet}/inbox`;
  const requests = [
    signRequest(alice.session, { v: 1, grant: g.id, method: "GET", path, ts: NOW }),
  ];
  const grants = [alice, bob].map((f) => ({ text: f.text, signature: f.signature }));

  const parsed = (text: string): { ok: true; value: unknown } | { ok: false } => {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false };
    }
  };

  const targets: FuzzTarget<unknown>[] = [
    {
      // Any JSON value, fractions and huge numbers included (no exclusion): the bytes of
      // the canonicalize package, or 1002 for a value a signed payload may not hold.
      name: "canonical-json",
      arbitrary: fc.oneof(
        fc.jsonValue({ maxDepth: 4 }),
        fc.tuple(fc.constantFrom(...actions), fc.nat(), weird).map(([a, i, w]) => {
          const p = a.payload as unknown as Record<string, unknown>;
          const keys = Object.keys(p);
          return { ...p, [keys[i % keys.length] as string]: w };
        }),
      ) as fc.Arbitrary<unknown>,
      check: (input) => {
        let out: string;
        try {
          out = canonicalJson(input, "payload");
        } catch (e) {
          const o = thrown(e);
          if (o.kind === "refused" && !holdsUnsignable(input))
            return { kind: "invalid", detail: "refused a value that has a canonical form" };
          return o;
        }
        if (holdsUnsignable(input))
          return { kind: "invalid", detail: "gave bytes for a fraction or unsafe integer" };
        let reference: string | undefined;
        try {
          reference = canonicalize(input);
        } catch {
          // canonicalize refuses lone surrogates (which actions refuse on their own, 1002);
          // then the bytes must at least parse back to a value with the same bytes.
          reference = canonicalJson(JSON.parse(out));
        }
        return out === reference
          ? { kind: "accepted" }
          : { kind: "invalid", detail: `differs from canonicalize: ${out}` };
      },
    },
    {
      name: "encodings",
      arbitrary: fc.oneof(
        fc.string({ unit: "binary", maxLength: 120 }),
        fc.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{0,90}$/),
        fc.stringMatching(/^[A-Za-z0-9_-]{0,90}$/),
      ) as fc.Arbitrary<unknown>,
      check: (input) => {
        const s = input as string;
        let bytes: Uint8Array | undefined;
        try {
          bytes = fromBase58(s, "f");
        } catch (e) {
          const o = thrown(e);
          if (o.kind === "crash") return o;
        }
        if (bytes !== undefined && toBase58(bytes) !== s)
          return { kind: "invalid", detail: "base58 does not round-trip" };
        try {
          const b = fromBase64url(s, "f");
          if (toBase64url(b).length !== s.length)
            return { kind: "invalid", detail: "base64url length does not round-trip" };
        } catch (e) {
          const o = thrown(e);
          if (o.kind === "crash") return o;
        }
        return bytes === undefined ? { kind: "refused", code: 1004 } : { kind: "accepted" };
      },
    },
    {
      name: "grant-text",
      arbitrary: mutatedText([alice.text, bob.text]) as fc.Arbitrary<unknown>,
      check: (input) => {
        const text = input as string;
        try {
          const grant = parseGrantText(text);
          if (grantToText(grant) !== text)
            return { kind: "invalid", detail: "accepted a text that does not re-render" };
          return { kind: "accepted" };
        } catch (e) {
          return thrown(e);
        }
      },
    },
    {
      name: "grant",
      arbitrary: fc.oneof(
        mutatedJson(grants),
        mutatedText([alice.text, bob.text]).map((text) =>
          JSON.stringify({ text, signature: alice.signature }),
        ),
      ) as fc.Arbitrary<unknown>,
      check: async (input) => {
        const p = parsed(input as string);
        if (!p.ok) return { kind: "refused", code: 1001 };
        const o = await attempt(() => verifyGrant(p.value as never, TEST_CONTEXT, backend));
        if (o.kind !== "accepted") return o;
        const v = p.value as { text: string; signature: string };
        return grants.some((g) => g.text === v.text && g.signature === v.signature)
          ? o
          : { kind: "invalid", detail: "a grant nobody signed verified" };
      },
    },
    {
      name: "action",
      arbitrary: mutatedJson(actions) as fc.Arbitrary<unknown>,
      check: async (input) => {
        const p = parsed(input as string);
        if (!p.ok) return { kind: "refused", code: 1001 };
        try {
          decodeSignedAction(p.value);
          const v = await verifyAction(p.value, g, backend);
          return actionIds.has(v.id)
            ? { kind: "accepted" }
            : { kind: "invalid", detail: "an action nobody signed verified" };
        } catch (e) {
          return thrown(e);
        }
      },
    },
    {
      name: "revocation-text",
      arbitrary: mutatedText(revocations.map((r) => r.text)) as fc.Arbitrary<unknown>,
      check: (input) => {
        try {
          const r = parseRevocationText(input as string);
          return revocationToText(r) === input
            ? { kind: "accepted" }
            : { kind: "invalid", detail: "accepted a text that does not re-render" };
        } catch (e) {
          return thrown(e);
        }
      },
    },
    {
      name: "revocation",
      arbitrary: fc.oneof(
        mutatedJson(revocations),
        mutatedText(revocations.map((r) => r.text)).map((text) =>
          JSON.stringify({ text, signature: revocations[0]?.signature }),
        ),
      ) as fc.Arbitrary<unknown>,
      check: async (input) => {
        const p = parsed(input as string);
        if (!p.ok) return { kind: "refused", code: 1001 };
        const o = await attempt(() => verifyRevocation(p.value as never, TEST_CONTEXT, backend));
        if (o.kind !== "accepted") return o;
        const v = p.value as { text: string; signature: string };
        return revocations.some((r) => r.text === v.text && r.signature === v.signature)
          ? o
          : { kind: "invalid", detail: "a revocation nobody signed verified" };
      },
    },
    {
      name: "equivocation-proof",
      arbitrary: mutatedJson(proofs) as fc.Arbitrary<unknown>,
      check: async (input) => {
        const p = parsed(input as string);
        if (!p.ok) return { kind: "refused", code: 1001 };
        try {
          const v = await verifyEquivocation(p.value as never, g, backend);
          return proofIds.has(v.a.id) && proofIds.has(v.b.id)
            ? { kind: "accepted" }
            : { kind: "invalid", detail: "a proof of actions nobody signed verified" };
        } catch (e) {
          return thrown(e);
        }
      },
    },
    {
      name: "signed-request",
      arbitrary: mutatedJson(requests) as fc.Arbitrary<unknown>,
      check: async (input) => {
        const p = parsed(input as string);
        if (!p.ok) return { kind: "refused", code: 1001 };
        try {
          const r = decodeSignedRequest(p.value);
          await verifySignedRequest(r, { method: "GET", path, now: NOW }, g, backend);
          return r.signature === requests[0]?.signature &&
            canonicalJson(r.payload) === canonicalJson(requests[0]?.payload)
            ? { kind: "accepted" }
            : { kind: "invalid", detail: "a request nobody signed verified" };
        } catch (e) {
          return thrown(e);
        }
      },
    },
  ];
  return targets;
}
