/**
 * The interop test vectors, built from fixed seeds (no clock, no randomness). Every
 * expected outcome is written down here by hand and then checked against the real code
 * with both crypto backends: a vector whose actual outcome differs makes the generator
 * throw, so the table cannot silently drift from the implementation.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { base64 } from "@scure/base";
import {
  AccountRole,
  address,
  appendTransactionMessageInstructions,
  blockhash,
  compileTransaction,
  createTransactionMessage,
  getBase64EncodedWireTransaction,
  type Instruction,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type Transaction,
} from "@solana/kit";
import { nodeEd25519 } from "../src/crypto/node-crypto.js";
import { webEd25519 } from "../src/crypto/web-crypto.js";
import {
  type ActionKind,
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  canonicalJson,
  concatBytes,
  DEFAULT_MEMO_PROGRAMS,
  type Ed25519Backend,
  ErrorCode,
  errorName,
  fromBase58,
  GRANT_LIMITS,
  GRANT_MEMO_PREFIX,
  type Grant,
  grantIdOfText,
  grantTimeStatus,
  POLICY_DEFAULTS,
  parseGrantText,
  REQUEST_MAX_SKEW_MS,
  type RequestPayload,
  type RevocationTarget,
  requestSigningBytes,
  revocationCovers,
  revocationIdOfText,
  SCOPE_OF_KIND,
  type Signature,
  type SignedAction,
  SMALL_ORDER_ENCODINGS,
  toBase58,
  toBase64url,
  toHex,
  utf8,
  validateActionPayload,
  validateRevocation,
  verifyAction,
  verifyEquivocation,
  verifyGrant,
  verifyRevocation,
  verifySignedRequest,
  X25519_SMALL_ORDER_ENCODINGS,
} from "../src/index.js";
import {
  DAY,
  type GrantFixture,
  HOUR,
  makeGrant,
  signAction,
  signRequest,
  signRevocation,
  T0,
  TEST_CONTEXT,
  type TestKey,
  testEncryptionKey,
  testKey,
  testNonce,
} from "./fixtures.js";
import {
  type Ed25519Case,
  type Expected,
  expectedError,
  type InvalidCase,
  type InvalidFile,
  type PolicyStep,
  runEd25519Case,
  runInvalidCase,
  runPolicySteps,
  type VectorContext,
  verifyContextOf,
} from "./replay.js";

const MINUTE = 60_000;
const MEMO_PROGRAM = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
const SYSTEM_PROGRAM = "11111111111111111111111111111111";
/** Not a memo program: any other address. */
const OTHER_PROGRAM = testKey("some other program").address;
const BLOCKHASH = toBase58(sha256(utf8("sesame test blockhash")));
/** The Ed25519 group order and the field prime. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;

export const CONTEXT: VectorContext = Object.freeze({
  chain: TEST_CONTEXT.chain,
  network: TEST_CONTEXT.network,
  domains: Object.freeze(["app.sesame.test", "localhost:5173"]),
  maxLifetimeMs: GRANT_LIMITS.defaultMaxLifetimeMs,
  memoPrograms: DEFAULT_MEMO_PROGRAMS,
  now: T0 + HOUR,
  maxFutureSkewMs: POLICY_DEFAULTS.maxFutureSkewMs,
  lateGraceMs: POLICY_DEFAULTS.lateGraceMs,
});

// ---------------------------------------------------------------------------------------
// Small helpers

function leToBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

function bigintToLe(n: bigint, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  let v = n;
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function sigBytes(signature: string): Uint8Array {
  return fromBase58(signature, "signature");
}

function hexOfSig(signature: string): string {
  return toHex(sigBytes(signature));
}

/** The same signature with S replaced by S + L: the same value mod L, not canonical. */
function withSPlusL(signature: string): Signature {
  const b = sigBytes(signature);
  return toBase58(
    concatBytes(b.slice(0, 32), bigintToLe(leToBigint(b.slice(32)) + L)),
  ) as Signature;
}

function signText(key: TestKey, text: string): { text: string; signature: Signature } {
  return { text, signature: toBase58(key.sign(utf8(text))) as Signature };
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A one-place text edit that fails loudly when the text to replace is not there. */
function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`vector edit: ${JSON.stringify(from)} not found`);
  return text.replace(from, to);
}

function fakeId(label: string): string {
  return toBase58(sha256(utf8(`sesame test id: ${label}`)));
}

function fakeSignature(label: string): string {
  return toBase58(sha512(utf8(`sesame test signature: ${label}`)));
}

function base58OfLength(label: string, length: number): string {
  return toBase58(sha512(utf8(label)).slice(0, length));
}

const IDENTITY = bigintToLe(1n);
const ORDER_8 = SMALL_ORDER_ENCODINGS[2] as Uint8Array;
/** R = identity, S = 0: satisfies the cofactorless equation for the identity key and any message. */
const FORGED_SIGNATURE = concatBytes(IDENTITY, new Uint8Array(32));

// ---------------------------------------------------------------------------------------
// Keys and grants

const alice = testKey("alice");
const bob = testKey("bob");

const fullGrant = makeGrant("alice", "alice-session-1");
const fullId = grantIdOfText(fullGrant.text);

const postOnlyGrant = makeGrant("bob", "bob-session-1", {
  domain: "localhost:5173",
  uri: "http://localhost:5173/",
  statement: "Let this app post for me.",
  device: "Node CLI",
  scopes: ["post"],
  limits: { post: { total: null, perHour: null } },
  tipBudget: null,
  expirationTime: T0 + 2 * HOUR,
});

const unicodeGrant = makeGrant("carol", "carol-session-1", {
  statement: "Laisse cette app publier, réagir et m’écrire pour moi — merci ☕ 🚀",
  device: "Firefox auf Linux · Büro",
  scopes: ["post", "react", "dm"],
  limits: {
    post: { total: 1_000_000, perHour: 10_000 },
    react: { total: null, perHour: 1 },
    dm: { total: 1, perHour: null },
  },
  tipBudget: null,
  issuedAt: T0 - 5 * MINUTE,
  notBefore: T0,
  // Exactly the longest lifetime a verifier accepts by default.
  expirationTime: T0 + GRANT_LIMITS.defaultMaxLifetimeMs,
});

/** The grant of the policy sequences: small caps, a window that opens an hour after issue. */
const limitedGrant = makeGrant("alice", "alice-session-limited", {
  statement: "Let this app post, react and follow for me.",
  scopes: ["post", "react", "follow"],
  limits: {
    post: { total: 3, perHour: null },
    react: { total: null, perHour: 3 },
    follow: { total: null, perHour: null },
  },
  tipBudget: null,
  issuedAt: T0,
  notBefore: T0 + HOUR,
  expirationTime: T0 + DAY,
});
const limitedId = grantIdOfText(limitedGrant.text);

/** A grant that names an arbitrary 32-byte session key, validly signed by alice. */
function grantForSessionKey(label: string, sessionKey: Uint8Array): GrantFixture {
  return makeGrant("alice", label, { sessionKey: toBase58(sessionKey) });
}

// A key with a torsion component: A' = [a]B + T, T of order 8. Not small order, so the
// pinned rule does not refuse it; its signatures verify cofactorless only when [k]T = 0.
const mixedSeed = sha256(utf8("sesame test mixed-order key"));
const mixedScalar = (() => {
  const head = sha512(mixedSeed).slice(0, 32);
  head[0] = (head[0] as number) & 248;
  head[31] = ((head[31] as number) & 127) | 64;
  return leToBigint(head) % L;
})();
const mixedPublicKey = (() => {
  const A = ed25519.Point.BASE.multiply(mixedScalar);
  if (toHex(A.toBytes()) !== toHex(ed25519.getPublicKey(mixedSeed)))
    throw new Error("scalar derivation disagrees with @noble/curves");
  return A.add(ed25519.Point.fromBytes(ORDER_8)).toBytes();
})();

/** Signs with scalar `a` for the encoded key `publicKey`, nonce from `label`. */
function signWithScalar(
  a: bigint,
  publicKey: Uint8Array,
  message: Uint8Array,
  label: string,
  rBytes?: Uint8Array,
): { signature: Uint8Array; k: bigint; h: bigint } {
  const r = leToBigint(sha512(utf8(`sesame test nonce r: ${label}`))) % L;
  const R = rBytes ?? ed25519.Point.BASE.multiply(r).toBytes();
  const h = leToBigint(sha512(concatBytes(R, publicKey, message)));
  const k = h % L;
  const S = ((rBytes === undefined ? r : 0n) + k * a) % L;
  return { signature: concatBytes(R, bigintToLe(S)), k, h };
}

function keyScalar(key: TestKey): bigint {
  const head = sha512(key.seed).slice(0, 32);
  head[0] = (head[0] as number) & 248;
  head[31] = ((head[31] as number) & 127) | 64;
  return leToBigint(head) % L;
}

const smallOrderSessionGrant = grantForSessionKey("small-order-session", IDENTITY);
const nonCanonicalSessionKey = bigintToLe(P + 2n);
const nonCanonicalSessionGrant = grantForSessionKey(
  "non-canonical-session",
  nonCanonicalSessionKey,
);
const mixedOrderSessionGrant = grantForSessionKey("mixed-order-session", mixedPublicKey);

// ---------------------------------------------------------------------------------------
// Actions

function payload(
  grant: string,
  kind: ActionKind,
  seq: number,
  ord: number,
  ts: number,
  body: unknown,
): ActionPayload {
  return validateActionPayload({ v: 1, kind, grant, seq, ord, ts, body });
}

const BOB_POST = fakeId("a post by bob");

function dmBody(to: string, keys: readonly string[], label: string) {
  return {
    to,
    messageId: toBase58(sha256(utf8(`sesame test dm id: ${label}`)).slice(0, 16)),
    copies: keys.map((key, i) => ({
      key,
      ephemeral: testEncryptionKey(`${label} ephemeral ${i}`),
      // Stand-in ciphertext (nonce and tag included): the protocol only checks its encoding.
      ciphertext: toBase64url(sha512(utf8(`sesame test dm ciphertext: ${label} ${i}`))),
    })),
  };
}

function defaultBody(kind: ActionKind, label: string): unknown {
  switch (kind) {
    case "post":
      return { text: label, links: [], mentions: [] };
    case "reply":
      return { parent: BOB_POST, text: label, links: [], mentions: [] };
    case "react":
    case "unreact":
      return { target: BOB_POST, reaction: "👍" };
    case "follow":
    case "unfollow":
      return { target: bob.address };
    case "profile":
      return { displayName: "Alice", bio: label, avatarUrl: "" };
    case "dm":
      return dmBody(bob.address, [testEncryptionKey("bob-session-1")], label);
    case "tip":
      return {
        post: BOB_POST,
        to: bob.address,
        mint: testKey("mint").address,
        amount: "250000",
        transaction: fakeSignature(label),
      };
  }
}

/** A signed action of `grant`'s session; the body defaults to a simple one of its kind. */
function act(
  f: GrantFixture,
  kind: ActionKind,
  seq: number,
  ord: number,
  ts: number,
  body: unknown = defaultBody(kind, `${kind} ${seq}`),
): SignedAction {
  return signAction(f.session, payload(grantIdOfText(f.text), kind, seq, ord, ts, body));
}

/**
 * RFC 8785 of any JSON value, numbers included (ECMAScript serialisation, which is what
 * JCS specifies); `canonicalJson` refuses what a signed payload may not hold.
 */
function anyJcs(value: unknown): string {
  if (typeof value === "number") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(anyJcs).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${anyJcs((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return canonicalJson(value);
}

/** Signs raw payload JSON as a naive implementation would: prefix + JCS of all of it. */
function signRaw(session: TestKey, raw: Record<string, unknown>, prefixKind = String(raw.kind)) {
  const bytes = concatBytes(
    Uint8Array.of(0xff),
    utf8(`sesame/1/action/${prefixKind}\n`),
    utf8(anyJcs(raw)),
  );
  return { payload: raw, signature: toBase58(session.sign(bytes)) };
}

/** A valid post of the full grant as mutable JSON, to break one field at a time. */
function rawPost(body: Record<string, unknown> = {}, fields: Record<string, unknown> = {}) {
  return {
    v: 1,
    kind: "post",
    grant: fullId,
    seq: 1,
    ord: 1,
    ts: T0 + HOUR,
    body: { text: "hello", links: [], mentions: [], ...body },
    ...fields,
  } as Record<string, unknown>;
}

function rawAction(kind: ActionKind, body: Record<string, unknown>) {
  return { v: 1, kind, grant: fullId, seq: 1, ord: 1, ts: T0 + HOUR, body } as Record<
    string,
    unknown
  >;
}

function signedRawBody(kind: ActionKind, body: Record<string, unknown>) {
  return signRaw(fullGrant.session, rawAction(kind, body));
}

// ---------------------------------------------------------------------------------------
// Transactions (the funds-tier form of a grant)

function shortVec(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if (v === 0) {
      out.push(b);
      return Uint8Array.from(out);
    }
    out.push(b | 0x80);
  }
}

function memoIx(memo: string | Uint8Array, program = MEMO_PROGRAM): Instruction {
  return {
    programAddress: address(program),
    data: typeof memo === "string" ? utf8(memo) : memo,
  };
}

function transferIx(from: string, to: string, lamports: bigint): Instruction {
  return {
    programAddress: address(SYSTEM_PROGRAM),
    accounts: [
      { address: address(from), role: AccountRole.WRITABLE_SIGNER },
      { address: address(to), role: AccountRole.WRITABLE },
    ],
    data: concatBytes(Uint8Array.of(2, 0, 0, 0), bigintToLe(lamports, 8)),
  };
}

interface BuiltTransaction {
  readonly wire: Uint8Array;
  readonly base64: string;
  readonly messageBytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** A legacy transaction with a fixed blockhash, built with @solana/kit, signed by `signers`. */
function buildTransaction(
  payer: TestKey,
  instructions: readonly Instruction[],
  signers: readonly TestKey[] = [payer],
): BuiltTransaction {
  const message = pipe(
    createTransactionMessage({ version: "legacy" }),
    (m) => setTransactionMessageFeePayer(address(payer.address), m),
    (m) =>
      setTransactionMessageLifetimeUsingBlockhash(
        { blockhash: blockhash(BLOCKHASH), lastValidBlockHeight: 0n },
        m,
      ),
    (m) => appendTransactionMessageInstructions(instructions, m),
  );
  const compiled = compileTransaction(message);
  const messageBytes = Uint8Array.from(compiled.messageBytes);
  const signatures: Record<string, Uint8Array | null> = { ...compiled.signatures };
  for (const key of signers) signatures[key.address] = key.sign(messageBytes);
  const signed = { ...compiled, signatures } as unknown as Transaction;
  const b64 = getBase64EncodedWireTransaction(signed);
  return {
    wire: base64.decode(b64),
    base64: b64,
    messageBytes,
    signature: signatures[payer.address] ?? new Uint8Array(64),
  };
}

/**
 * The same single-memo transaction written out byte by byte, to pin the wire format
 * independently of the library: signatures, header [1, 0, 1], account keys (payer,
 * memo program), blockhash, one instruction (program index 1, no accounts, data).
 */
function handBuiltMemoTransaction(payer: TestKey, memo: string): Uint8Array {
  const data = utf8(memo);
  const message = concatBytes(
    Uint8Array.of(1, 0, 1),
    shortVec(2),
    payer.publicKey,
    fromBase58(MEMO_PROGRAM, "memo program"),
    fromBase58(BLOCKHASH, "blockhash"),
    shortVec(1),
    Uint8Array.of(1),
    shortVec(0),
    shortVec(data.length),
    data,
  );
  return concatBytes(shortVec(1), payer.sign(message), message);
}

function memoTransaction(f: GrantFixture, memo: string): BuiltTransaction {
  const tx = buildTransaction(f.wallet, [memoIx(memo)]);
  if (toHex(tx.wire) !== toHex(handBuiltMemoTransaction(f.wallet, memo))) {
    throw new Error("@solana/kit and the hand-built wire transaction disagree");
  }
  return tx;
}

// ---------------------------------------------------------------------------------------
// grants.json

function grantMessageVector(name: string, description: string, f: GrantFixture) {
  return {
    name,
    description,
    form: "message",
    text: f.text,
    textHex: toHex(utf8(f.text)),
    wallet: f.wallet.address,
    walletHex: toHex(f.wallet.publicKey),
    signature: f.signature,
    signatureHex: hexOfSig(f.signature),
    grantId: grantIdOfText(f.text),
    sessionKey: f.grant.sessionKey,
    grant: f.grant,
  };
}

function grantTransactionVector(
  name: string,
  description: string,
  f: GrantFixture,
  messageVector: string,
  memo: string,
  tx: BuiltTransaction,
) {
  return {
    name,
    description,
    form: "transaction",
    messageVector,
    text: f.text,
    wallet: f.wallet.address,
    feePayer: f.wallet.address,
    blockhash: BLOCKHASH,
    memoProgram: MEMO_PROGRAM,
    memo,
    transaction: tx.base64,
    messageHex: toHex(tx.messageBytes),
    signature: toBase58(tx.signature) as Signature,
    signatureHex: toHex(tx.signature),
    grantId: grantIdOfText(f.text),
    sessionKey: f.grant.sessionKey,
    grant: f.grant,
  };
}

function grantsFile() {
  const fullMemo = `${GRANT_MEMO_PREFIX}${fullId}`;
  const postOnlyMemo = `${GRANT_MEMO_PREFIX}${grantIdOfText(postOnlyGrant.text)}`;
  const topUp = buildTransaction(bob, [
    transferIx(bob.address, postOnlyGrant.session.address, 5_000_000n),
    memoIx(postOnlyMemo),
  ]);
  const statuses: { grant: string; at: number; expected: string }[] = [];
  const status = (name: string, g: Grant, at: number, expected: string) => {
    const actual = grantTimeStatus(g, at, CONTEXT);
    if (actual !== expected) throw new Error(`timeStatus ${name} at ${at}: ${actual}`);
    statuses.push({ grant: name, at, expected });
  };
  const skew = CONTEXT.maxFutureSkewMs;
  status("full", fullGrant.grant, T0 - skew - 1, "pending");
  status("full", fullGrant.grant, T0 - skew, "live");
  status("full", fullGrant.grant, T0 + 7 * DAY - 1, "live");
  status("full", fullGrant.grant, T0 + 7 * DAY, "expired");
  status("unicode", unicodeGrant.grant, T0 + GRANT_LIMITS.defaultMaxLifetimeMs, "expired");
  return {
    description:
      "Valid grants. Message form: the wallet signs the UTF-8 bytes of `text` (signMessage). Transaction form: the wallet signs a Solana transaction whose fee payer it is and whose one Memo instruction carries the grant text or `sesame-grant:<grantId>`. The grant id is base58(SHA-256(text bytes)) in both forms. `grant` is what parsing the text gives. `timeStatus` pins grantTimeStatus (pending / live / expired) at a few instants, with the context's maxFutureSkewMs.",
    context: CONTEXT,
    vectors: [
      grantMessageVector("full", "Every scope, with limits and a tip budget.", fullGrant),
      grantMessageVector(
        "post-only",
        "One scope without limits, a localhost app with a port, no tip budget.",
        postOnlyGrant,
      ),
      grantMessageVector(
        "unicode",
        "Non-ASCII statement and device (multi-byte UTF-8), notBefore after issuedAt, a lifetime of exactly the default maximum (30 days).",
        unicodeGrant,
      ),
      grantTransactionVector(
        "full-transaction-memo-id",
        "The full grant carried by id in the Memo of a legacy transaction with the wallet as fee payer; same grant id as the message form.",
        fullGrant,
        "full",
        fullMemo,
        memoTransaction(fullGrant, fullMemo),
      ),
      grantTransactionVector(
        "full-transaction-memo-text",
        "The full grant text itself as the Memo.",
        fullGrant,
        "full",
        fullGrant.text,
        memoTransaction(fullGrant, fullGrant.text),
      ),
      grantTransactionVector(
        "post-only-transaction-with-top-up",
        "A funded start: a System transfer of 5,000,000 lamports from the wallet to the session key, then the Memo with the grant id. Other instructions are allowed; exactly one memo is required.",
        postOnlyGrant,
        "post-only",
        postOnlyMemo,
        topUp,
      ),
    ],
    timeStatus: statuses,
  };
}

// ---------------------------------------------------------------------------------------
// actions.json

function actionVector(name: string, description: string, signed: SignedAction) {
  const bytes = actionSigningBytes(signed.payload);
  return {
    name,
    description,
    kind: signed.payload.kind,
    scope: SCOPE_OF_KIND[signed.payload.kind],
    action: signed,
    canonicalJson: canonicalJson(signed.payload),
    signedBytesHex: toHex(bytes),
    signatureHex: hexOfSig(signed.signature),
    actionId: actionIdOf(signed.payload),
  };
}

function grantRef(f: GrantFixture) {
  return {
    text: f.text,
    signature: f.signature,
    grantId: grantIdOfText(f.text),
    sessionKey: f.grant.sessionKey,
  };
}

function actionsFile() {
  const ts = (seq: number) => T0 + HOUR + seq * 1000;
  const post = act(fullGrant, "post", 1, 1, ts(1), {
    text: "Hello, Sesame! 👋 Signed once, posting freely.",
    links: ["https://sesame.test/about"],
    mentions: [bob.address],
  });
  const postId = actionIdOf(post.payload);
  const tipBudget = fullGrant.grant.tipBudget;
  if (tipBudget === null) throw new Error("the full grant has a tip budget");
  const vectors = [
    actionVector("post", "A post with a link and a mention.", post),
    actionVector(
      "reply",
      "A reply to the post above.",
      act(fullGrant, "reply", 2, 1, ts(2), {
        parent: postId,
        text: "Replying without another wallet prompt.",
        links: [],
        mentions: [],
      }),
    ),
    actionVector(
      "react",
      "A reaction (an emoji with a variation selector).",
      act(fullGrant, "react", 3, 1, ts(3), { target: postId, reaction: "❤️" }),
    ),
    actionVector(
      "unreact",
      "Taking the reaction back: same scope (react), next ordinal.",
      act(fullGrant, "unreact", 4, 2, ts(4), { target: postId, reaction: "❤️" }),
    ),
    actionVector(
      "follow",
      "Following a wallet.",
      act(fullGrant, "follow", 5, 1, ts(5), { target: bob.address }),
    ),
    actionVector(
      "unfollow",
      "Unfollowing: same scope (follow), next ordinal.",
      act(fullGrant, "unfollow", 6, 2, ts(6), { target: bob.address }),
    ),
    actionVector(
      "profile",
      "Profile fields.",
      act(fullGrant, "profile", 7, 1, ts(7), {
        displayName: "Alice Ł.",
        bio: "Posting with session keys.",
        avatarUrl: "https://sesame.test/alice.png",
      }),
    ),
    actionVector(
      "dm",
      "A direct message with one copy for the recipient's session key and one for the sender's own. The ciphertexts are stand-in bytes: the protocol checks only their encoding.",
      act(
        fullGrant,
        "dm",
        8,
        1,
        ts(8),
        dmBody(
          bob.address,
          [testEncryptionKey("bob-session-1"), fullGrant.grant.encryptionKey],
          "alice to bob",
        ),
      ),
    ),
    actionVector(
      "tip",
      "A tip of 0.25 units of the budget's mint for a post; `transaction` names the Solana transaction that moved the tokens.",
      act(fullGrant, "tip", 9, 1, ts(9), {
        post: BOB_POST,
        to: bob.address,
        mint: tipBudget.mint,
        amount: "250000",
        transaction: fakeSignature("tip transaction"),
      }),
    ),
    actionVector(
      "post-max-text",
      "A post whose text is exactly 1024 UTF-8 bytes (1024 is the limit) with 2-, 3- and 4-byte characters.",
      act(fullGrant, "post", 10, 2, ts(10), {
        text: `${"é".repeat(100)}${"€".repeat(100)}${"🚀".repeat(100)}${"a".repeat(124)}`,
        links: [],
        mentions: [],
      }),
    ),
    actionVector(
      "profile-empty",
      "Profile fields may be empty (clearing them).",
      act(fullGrant, "profile", 11, 2, ts(11), { displayName: "", bio: "", avatarUrl: "" }),
    ),
  ];
  const maxText = vectors.find((v) => v.name === "post-max-text")?.action.payload.body;
  if (utf8((maxText as { text: string }).text).length !== 1024) {
    throw new Error("post-max-text must be 1024 bytes");
  }
  return {
    description:
      "One valid signed action of every kind. The signed bytes are 0xFF, the ASCII prefix `sesame/1/action/<kind>\\n`, then the RFC 8785 canonical JSON of `payload`; the session key of `grant` signs them and the action id is base58(SHA-256(signed bytes)).",
    context: CONTEXT,
    grant: grantRef(fullGrant),
    vectors,
  };
}

// ---------------------------------------------------------------------------------------
// revocations.json

function signedRevocation(
  wallet: TestKey,
  target: RevocationTarget,
  compromisedSince: number | null,
  issuedAt: number,
  label: string,
) {
  const rev = validateRevocation({
    version: 1,
    wallet: wallet.address,
    network: CONTEXT.network,
    target,
    compromisedSince,
    issuedAt,
    nonce: testNonce(`revocation ${label}`),
  });
  return { revocation: rev, ...signRevocation(wallet, rev) };
}

const alice2Grant = makeGrant("alice", "alice-session-2", {
  issuedAt: T0 + 2 * DAY,
  notBefore: T0 + 2 * DAY,
  expirationTime: T0 + 3 * DAY,
});

function revocationsFile() {
  const grants = { "alice-1": fullGrant, "alice-2": alice2Grant, "bob-1": postOnlyGrant };
  const vector = (
    name: string,
    description: string,
    r: ReturnType<typeof signedRevocation>,
    covers: Record<keyof typeof grants, boolean>,
  ) => {
    for (const [g, expected] of Object.entries(covers)) {
      const f = grants[g as keyof typeof grants];
      if (revocationCovers(r.revocation, f.grant, grantIdOfText(f.text)) !== expected)
        throw new Error(`revocation ${name} covers ${g}: expected ${expected}`);
    }
    return {
      name,
      description,
      text: r.text,
      textHex: toHex(utf8(r.text)),
      wallet: r.revocation.wallet,
      signature: r.signature,
      signatureHex: hexOfSig(r.signature),
      revocationId: revocationIdOfText(r.text),
      revocation: r.revocation,
      covers,
    };
  };
  return {
    description:
      "Valid wallet-signed revocations. The wallet signs the UTF-8 bytes of `text`; the revocation id is base58(SHA-256(text bytes)); `revocation` is what parsing the text gives. `covers` says which of `grants` each one ends (revocationCovers): one grant by id, or every grant of the same wallet issued strictly before a time.",
    context: CONTEXT,
    grants: Object.fromEntries(
      Object.entries(grants).map(([name, f]) => [
        name,
        { ...grantRef(f), wallet: f.wallet.address, issuedAt: f.grant.issuedAt },
      ]),
    ),
    vectors: [
      vector(
        "one-grant",
        "Ends one session; history is kept.",
        signedRevocation(alice, { kind: "grant", grant: fullId }, null, T0 + 3 * HOUR, "one"),
        { "alice-1": true, "alice-2": false, "bob-1": false },
      ),
      vector(
        "all-before",
        "Ends every session of the wallet issued before a time (alice-2 is issued after it; bob-1 is another wallet's).",
        signedRevocation(alice, { kind: "all", issuedBefore: T0 + DAY }, null, T0 + DAY, "all"),
        { "alice-1": true, "alice-2": false, "bob-1": false },
      ),
      vector(
        "compromised",
        "Ends one session and reports its key stolen since a time: what a node received from then on is hidden.",
        signedRevocation(
          alice,
          { kind: "grant", grant: grantIdOfText(alice2Grant.text) },
          T0 + 2 * DAY + HOUR,
          T0 + 2 * DAY + 2 * HOUR,
          "compromised",
        ),
        { "alice-1": false, "alice-2": true, "bob-1": false },
      ),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// equivocations.json

function equivocationsFile() {
  const ts = T0 + 2 * HOUR;
  const vector = (
    name: string,
    description: string,
    a: SignedAction,
    b: SignedAction,
    expectedBy: "sequence" | "ordinal",
  ) => ({
    name,
    description,
    proof: { a, b },
    actionIds: { a: actionIdOf(a.payload), b: actionIdOf(b.payload) },
    expectedBy,
  });
  const post = (seq: number, ord: number, text: string) =>
    act(fullGrant, "post", seq, ord, ts, { text, links: [], mentions: [] });
  return {
    description:
      "Valid equivocation proofs: two different actions of one session, each validly signed, that share a sequence number (`by: sequence`) or an ordinal within one scope (`by: ordinal`). A shared sequence number is reported first.",
    context: CONTEXT,
    grant: grantRef(fullGrant),
    vectors: [
      vector(
        "by-sequence",
        "Two posts with sequence number 20.",
        post(20, 10, "first version"),
        post(20, 11, "second version"),
        "sequence",
      ),
      vector(
        "by-sequence-across-kinds",
        "A post and a reaction with sequence number 21.",
        post(21, 12, "a post"),
        act(fullGrant, "react", 21, 5, ts),
        "sequence",
      ),
      vector(
        "by-ordinal",
        "Two posts with post ordinal 13 under different sequence numbers.",
        post(22, 13, "post thirteen"),
        post(23, 13, "another post thirteen"),
        "ordinal",
      ),
      vector(
        "by-ordinal-same-scope-other-kind",
        "A react and an unreact share the react scope, so ordinal 6 collides.",
        act(fullGrant, "react", 24, 6, ts),
        act(fullGrant, "unreact", 25, 6, ts),
        "ordinal",
      ),
      vector(
        "by-sequence-and-ordinal",
        "Same sequence number and same ordinal: reported as by sequence.",
        post(26, 14, "one"),
        post(26, 14, "two"),
        "sequence",
      ),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// requests.json

function requestsFile() {
  const now = CONTEXT.now;
  const vector = (name: string, description: string, p: RequestPayload) => {
    const signed = signRequest(fullGrant.session, p);
    return {
      name,
      description,
      request: signed,
      canonicalJson: canonicalJson(p),
      signedBytesHex: toHex(requestSigningBytes(p)),
      signatureHex: hexOfSig(signed.signature),
      expected: { method: p.method, path: p.path, now },
    };
  };
  const path = `/v1/wallets/${alice.address}/inbox?limit=50`;
  return {
    description:
      "Valid signed read requests (the `Sesame-Request` header). The session key signs 0xFF, `sesame/1/request\\n`, then the RFC 8785 JSON of `payload`. A node accepts one for exactly `expected.method` and `expected.path`, within REQUEST_MAX_SKEW_MS of its clock `expected.now`.",
    context: { ...CONTEXT, requestMaxSkewMs: REQUEST_MAX_SKEW_MS },
    grant: grantRef(fullGrant),
    vectors: [
      vector("inbox", "Reading one's DM inbox.", {
        v: 1,
        grant: fullId,
        method: "GET",
        path,
        ts: now - 1000,
      }),
      vector("skew-edge", "Stamped exactly REQUEST_MAX_SKEW_MS before the node's clock.", {
        v: 1,
        grant: fullId,
        method: "DELETE",
        path: "/v1/sessions/current",
        ts: now - REQUEST_MAX_SKEW_MS,
      }),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// policy.json

const ACCEPTED: Expected = { outcome: "accepted" };
const DUPLICATE: Expected = { outcome: "duplicate" };
const W = T0 + HOUR; // limitedGrant.notBefore
const E = T0 + DAY; // limitedGrant.expirationTime

function step(receivedAt: number, action: SignedAction, expected: Expected): PolicyStep {
  return { op: "action", receivedAt, action, expected };
}

function revocationStep(
  receivedAt: number,
  revocation: { text: string; signature: Signature },
  covers: boolean,
): PolicyStep {
  return {
    op: "revocation",
    receivedAt,
    revocation: { text: revocation.text, signature: revocation.signature },
    expected: { covers },
  };
}

const lp = (seq: number, ord: number, ts: number, text = `post ${seq}`) =>
  act(limitedGrant, "post", seq, ord, ts, { text, links: [], mentions: [] });
const lr = (seq: number, ord: number, ts: number) => act(limitedGrant, "react", seq, ord, ts);
const lf = (seq: number, ord: number, ts: number) => act(limitedGrant, "follow", seq, ord, ts);

interface SequenceSpec {
  readonly name: string;
  readonly description: string;
  readonly steps: readonly PolicyStep[];
}

function policySequences(): SequenceSpec[] {
  const err = expectedError;
  const dupA = lp(1, 1, W + MINUTE);
  const revokeLimited = signedRevocation(
    alice,
    { kind: "grant", grant: limitedId },
    null,
    W + 2 * MINUTE,
    "limited one",
  );
  const revokeAllCompromised = signedRevocation(
    alice,
    { kind: "all", issuedBefore: T0 + MINUTE },
    W + 3 * MINUTE,
    W + 5 * MINUTE,
    "limited all",
  );
  const bobRevokesAll = signedRevocation(bob, { kind: "all", issuedBefore: W }, null, W, "bob all");
  const futureEdge = lp(2, 2, W + 10 * MINUTE + 60_001);
  const rateRetry = lr(4, 4, W + 30 * MINUTE);
  return [
    {
      name: "caps",
      description:
        "post is capped at 3 in total: ordinals 1-3 are accepted in any order, any ordinal above 3 is refused.",
      steps: [
        step(W + MINUTE, lp(1, 1, W + MINUTE), ACCEPTED),
        step(W + 2 * MINUTE, lp(2, 3, W + 2 * MINUTE), ACCEPTED),
        step(W + 3 * MINUTE, lp(3, 2, W + 3 * MINUTE), ACCEPTED),
        step(W + 4 * MINUTE, lp(4, 4, W + 4 * MINUTE), err(ErrorCode.OVER_CAP)),
        step(W + 5 * MINUTE, lp(5, 100, W + 5 * MINUTE), err(ErrorCode.OVER_CAP)),
      ],
    },
    {
      name: "hourly-rate",
      description:
        "react allows 3 per hour, counted by receipt minute over the last 60 minutes. The 4th within the hour is refused; the same action sent again once the first has left the window is accepted.",
      steps: [
        step(W, lr(1, 1, W), ACCEPTED),
        step(W + 10 * MINUTE, lr(2, 2, W + 10 * MINUTE), ACCEPTED),
        step(W + 20 * MINUTE, lr(3, 3, W + 20 * MINUTE), ACCEPTED),
        step(W + 30 * MINUTE, rateRetry, err(ErrorCode.OVER_RATE)),
        step(W + 59 * MINUTE + 59_999, rateRetry, err(ErrorCode.OVER_RATE)),
        step(W + 60 * MINUTE, rateRetry, ACCEPTED),
        step(W + 61 * MINUTE, lr(5, 5, W + 61 * MINUTE), err(ErrorCode.OVER_RATE)),
        step(W + 61 * MINUTE, lf(6, 1, W + 61 * MINUTE), ACCEPTED),
      ],
    },
    {
      name: "duplicates",
      description:
        "The same action received again is a duplicate: accepted idempotently, nothing changes.",
      steps: [
        step(W + MINUTE, dupA, ACCEPTED),
        step(W + 2 * MINUTE, dupA, DUPLICATE),
        step(W + 3 * HOUR, dupA, DUPLICATE),
        step(W + 3 * HOUR, lp(2, 2, W + 3 * HOUR), ACCEPTED),
      ],
    },
    {
      name: "equivocation-by-sequence",
      description:
        "A second, different action with an accepted action's sequence number proves equivocation: refused, and the node revokes the session. Later actions are refused as revoked; the accepted one still repeats as a duplicate.",
      steps: [
        step(W + MINUTE, dupA, ACCEPTED),
        step(
          W + 2 * MINUTE,
          lp(1, 2, W + 2 * MINUTE, "a different post"),
          err(ErrorCode.EQUIVOCATION),
        ),
        step(W + 3 * MINUTE, lr(2, 1, W + 3 * MINUTE), err(ErrorCode.SESSION_REVOKED)),
        step(W + 4 * MINUTE, dupA, DUPLICATE),
      ],
    },
    {
      name: "equivocation-by-ordinal",
      description:
        "A second, different post with an accepted post's ordinal proves equivocation; the session is revoked.",
      steps: [
        step(W + MINUTE, dupA, ACCEPTED),
        step(W + 2 * MINUTE, lp(2, 1, W + 2 * MINUTE), err(ErrorCode.EQUIVOCATION)),
        step(W + 3 * MINUTE, lf(3, 1, W + 3 * MINUTE), err(ErrorCode.SESSION_REVOKED)),
      ],
    },
    {
      name: "future-timestamp",
      description:
        "An action may be stamped at most maxFutureSkewMs (60 s) ahead of the node's clock. One stamped 1 ms further is refused, and accepted when it arrives a little later.",
      steps: [
        step(W + 10 * MINUTE, lp(1, 1, W + 10 * MINUTE + 60_000), ACCEPTED),
        step(W + 10 * MINUTE, futureEdge, err(ErrorCode.TIMESTAMP_IN_FUTURE)),
        step(W + 10 * MINUTE + 1, futureEdge, ACCEPTED),
      ],
    },
    {
      name: "window-and-expiry",
      description:
        "Timestamps must lie in [notBefore, expirationTime). A late action stamped inside the window is accepted until lateGraceMs (10 min) after expiration, then the session has expired.",
      steps: [
        step(W - 1, lf(1, 1, W - 1), err(ErrorCode.OUTSIDE_WINDOW)),
        step(W, lf(2, 2, W), ACCEPTED),
        step(E + 5 * MINUTE, lf(3, 3, E - 1), ACCEPTED),
        step(E, lf(4, 4, E), err(ErrorCode.OUTSIDE_WINDOW)),
        step(E + 10 * MINUTE - 1, lf(5, 5, E - 2), ACCEPTED),
        step(E + 10 * MINUTE, lf(6, 6, E - 3), err(ErrorCode.SESSION_EXPIRED)),
      ],
    },
    {
      name: "scope-not-granted",
      description:
        "The grant has post, react and follow only: reply, profile, dm and tip are refused; the session goes on.",
      steps: [
        step(
          W + MINUTE,
          act(limitedGrant, "reply", 1, 1, W + MINUTE),
          err(ErrorCode.SCOPE_NOT_GRANTED),
        ),
        step(
          W + MINUTE,
          act(limitedGrant, "profile", 2, 1, W + MINUTE),
          err(ErrorCode.SCOPE_NOT_GRANTED),
        ),
        step(
          W + MINUTE,
          act(limitedGrant, "dm", 3, 1, W + MINUTE),
          err(ErrorCode.SCOPE_NOT_GRANTED),
        ),
        step(
          W + MINUTE,
          act(limitedGrant, "tip", 4, 1, W + MINUTE),
          err(ErrorCode.SCOPE_NOT_GRANTED),
        ),
        step(W + MINUTE, act(limitedGrant, "unreact", 5, 1, W + MINUTE), ACCEPTED),
      ],
    },
    {
      name: "revoked-one-grant",
      description:
        "After a revocation of this grant, new actions are refused; an action accepted before still repeats as a duplicate.",
      steps: [
        step(W + MINUTE, dupA, ACCEPTED),
        revocationStep(W + 2 * MINUTE, revokeLimited, true),
        step(W + 3 * MINUTE, lp(2, 2, W + 3 * MINUTE), err(ErrorCode.SESSION_REVOKED)),
        step(W + 4 * MINUTE, dupA, DUPLICATE),
      ],
    },
    {
      name: "revoked-all-compromised",
      description:
        "Another wallet's revocation does not cover the session. The wallet's revoke-all (issued before T0 + 1 min, compromised since W + 3 min) does: the state records compromisedSince, and new actions are refused.",
      steps: [
        revocationStep(W, bobRevokesAll, false),
        step(W + MINUTE, dupA, ACCEPTED),
        step(W + 4 * MINUTE, lp(2, 2, W + 4 * MINUTE), ACCEPTED),
        revocationStep(W + 6 * MINUTE, revokeAllCompromised, true),
        step(W + 7 * MINUTE, lp(3, 3, W + 7 * MINUTE), err(ErrorCode.SESSION_REVOKED)),
      ],
    },
  ];
}

async function policyFile(backend: Ed25519Backend) {
  const grant = await verifyGrant(
    { text: limitedGrant.text, signature: limitedGrant.signature },
    verifyContextOf(CONTEXT),
    backend,
  );
  const sequences = [];
  for (const spec of policySequences()) {
    const steps = clone(spec.steps);
    const { results, state } = await runPolicySteps(grant, steps, CONTEXT, backend);
    steps.forEach((s, i) => {
      if (JSON.stringify(results[i]) !== JSON.stringify(s.expected)) {
        throw new Error(
          `policy ${spec.name} step ${i}: expected ${JSON.stringify(s.expected)}, got ${JSON.stringify(results[i])}`,
        );
      }
    });
    sequences.push({
      name: spec.name,
      description: spec.description,
      steps: steps.map((s) =>
        s.op === "action"
          ? {
              op: s.op,
              receivedAt: s.receivedAt,
              action: s.action,
              actionId: actionIdOf((s.action as SignedAction).payload),
              expected: s.expected,
            }
          : s,
      ),
      finalState: state,
    });
  }
  return {
    description:
      "Sequences of actions (and revocations) received by one node for one session, with the expected outcome of each. Replay: verify `grant`; start from initialSessionState(grantId) and an empty store; for an action, verifyAction, then applyAction(state, grant, action, receivedAt, collisions, {maxFutureSkewMs, lateGraceMs}) where collisions are the ids of stored actions with the same sequence number and with the same scope and ordinal. Store an accepted action; a duplicate changes nothing; on EQUIVOCATION (4006) apply revokeForEquivocation(state, receivedAt) and store nothing. For a revocation, verifyRevocation and, when revocationCovers the grant, applyRevocation(state, revocation, receivedAt). `finalState` is the SessionState after the last step.",
    context: CONTEXT,
    grant: grantRef(limitedGrant),
    sequences,
  };
}

// ---------------------------------------------------------------------------------------
// invalid.json

type CaseInput =
  | { kind: "grant"; grant: unknown }
  | { kind: "action"; grant: string; action: unknown }
  | { kind: "action"; grant: string; actionJson: string }
  | { kind: "revocation"; revocation: unknown }
  | { kind: "equivocation"; grant: string; proof: unknown }
  | {
      kind: "request";
      grant: string;
      request: unknown;
      expected: { method: string; path: string; now: number };
    }
  | { kind: "policy"; grant: string; steps: PolicyStep[] };

function invalidCases(): InvalidCase[] {
  const cases: InvalidCase[] = [];
  const add = (name: string, description: string, code: ErrorCode, input: CaseInput) => {
    cases.push({
      name,
      description,
      ...input,
      expectedCode: code,
      expectedName: errorName(code),
    } as InvalidCase);
  };
  const C = ErrorCode;
  const t = fullGrant.text;
  const g = (grant: unknown) => ({ kind: "grant" as const, grant });
  const resigned = (text: string, key: TestKey = alice) => g(signText(key, text));

  // --- grants: signatures and keys
  add(
    "grant-limit-tampered",
    "The post cap is raised in the text after the wallet signed it.",
    C.BAD_SIGNATURE,
    g({
      text: edit(t, "at most 50 in total", "at most 5000 in total"),
      signature: fullGrant.signature,
    }),
  );
  add(
    "grant-statement-tampered",
    "The statement is changed after signing.",
    C.BAD_SIGNATURE,
    g({ text: edit(t, "Let this app", "Let any app"), signature: fullGrant.signature }),
  );
  add(
    "grant-signed-by-another-wallet",
    "Alice's grant text signed by bob's wallet.",
    C.BAD_SIGNATURE,
    g(signText(bob, t)),
  );
  add(
    "grant-non-canonical-s",
    "A valid signature with S replaced by S + L (the same scalar mod L): malleable, refused.",
    C.NON_CANONICAL_SIGNATURE,
    g({ text: t, signature: withSPlusL(fullGrant.signature) }),
  );
  {
    const forgedText = makeGrant("alice", "alice-session-1", { wallet: toBase58(IDENTITY) }).text;
    add(
      "grant-small-order-wallet-forgery",
      "The classic forgery: the wallet is the identity point and the signature is R = identity, S = 0, which satisfies [S]B = R + [k]A for every message.",
      C.SMALL_ORDER_PUBLIC_KEY,
      g({ text: forgedText, signature: toBase58(FORGED_SIGNATURE) }),
    );
    const order8 = Uint8Array.from(ORDER_8);
    order8[31] = (order8[31] as number) | 0x80;
    add(
      "grant-small-order-wallet-sign-bit",
      "The wallet is a point of order 8, encoded with the sign bit set.",
      C.SMALL_ORDER_PUBLIC_KEY,
      g({
        text: makeGrant("alice", "alice-session-1", { wallet: toBase58(order8) }).text,
        signature: toBase58(FORGED_SIGNATURE),
      }),
    );
    add(
      "grant-non-canonical-wallet",
      "The wallet key encodes y = p + 2 (not below the field prime p).",
      C.NON_CANONICAL_PUBLIC_KEY,
      g({
        text: makeGrant("alice", "alice-session-1", { wallet: toBase58(bigintToLe(P + 2n)) }).text,
        signature: fullGrant.signature,
      }),
    );
  }
  {
    // Signed by alice's wallet: only the encryption key is wrong (makeGrant would refuse
    // to build it, so the line is replaced in a valid text, which is then signed).
    const withEncryptionKey = (key: Uint8Array) => {
      const f = makeGrant("alice", "alice-session-1");
      const line = `Encryption Key: ${f.grant.encryptionKey}`;
      if (!f.text.includes(line)) throw new Error("no encryption key line");
      return signText(alice, f.text.replace(line, `Encryption Key: ${toBase58(key)}`));
    };
    add(
      "grant-small-order-encryption-key",
      "The X25519 encryption key is a point of order 8 (u = 5f9c95bc…): a DM encrypted to it has a shared secret anyone can guess.",
      C.SMALL_ORDER_PUBLIC_KEY,
      g(withEncryptionKey(X25519_SMALL_ORDER_ENCODINGS[3] as Uint8Array)),
    );
    const zeroHigh = Uint8Array.from(X25519_SMALL_ORDER_ENCODINGS[0] as Uint8Array);
    zeroHigh[31] = 0x80;
    add(
      "grant-small-order-encryption-key-high-bit",
      "The X25519 encryption key is u = 0 with bit 255 set, which X25519 ignores.",
      C.SMALL_ORDER_PUBLIC_KEY,
      g(withEncryptionKey(zeroHigh)),
    );
  }
  add(
    "grant-signature-malformed-base58",
    "The signature contains characters outside the base58 alphabet (0, O, I, l).",
    C.INVALID_BASE58,
    g({ text: t, signature: `0OIl${fullGrant.signature.slice(4)}` }),
  );
  add(
    "grant-signature-63-bytes",
    "The signature decodes to 63 bytes.",
    C.INVALID_LENGTH,
    g({ text: t, signature: toBase58(sigBytes(fullGrant.signature).slice(0, 63)) }),
  );
  add(
    "grant-no-signature",
    "Neither a signature nor a transaction.",
    C.INVALID_FIELD,
    g({ text: t }),
  );

  // --- grants: binding to chain, network, app, lifetime
  const bound = (overrides: Record<string, unknown>) =>
    g(
      (({ text, signature }) => ({ text, signature }))(
        makeGrant("alice", "alice-session-1", overrides),
      ),
    );
  add(
    "grant-wrong-domain",
    "A grant for another app (domain not among the verifier's domains).",
    C.GRANT_DOMAIN_MISMATCH,
    bound({ domain: "evil.example", uri: "https://evil.example/" }),
  );
  add(
    "grant-wrong-chain",
    "A grant for another chain.",
    C.GRANT_CHAIN_MISMATCH,
    bound({ chain: "solana:devnet" }),
  );
  add(
    "grant-wrong-network",
    "A grant for another Sesame node network.",
    C.GRANT_NETWORK_MISMATCH,
    bound({ network: "sesame-other" }),
  );
  add(
    "grant-lifetime-too-long",
    "expirationTime - notBefore is 30 days + 1 ms, over the default maximum.",
    C.GRANT_LIFETIME_TOO_LONG,
    bound({ expirationTime: T0 + GRANT_LIMITS.defaultMaxLifetimeMs + 1 }),
  );

  // --- grants: text and fields (each validly signed by the wallet)
  add(
    "grant-unsupported-version",
    "Version: 2.",
    C.UNSUPPORTED_VERSION,
    resigned(edit(t, "Version: 1", "Version: 2")),
  );
  add(
    "grant-nonce-too-short",
    "A nonce of 8 bytes (at least 16 are required).",
    C.GRANT_NONCE_TOO_SHORT,
    resigned(
      edit(t, `Nonce: ${fullGrant.grant.nonce}`, `Nonce: ${base58OfLength("short nonce", 8)}`),
    ),
  );
  add(
    "grant-nonce-too-long",
    "A nonce of 65 bytes (at most 64).",
    C.FIELD_TOO_LARGE,
    resigned(
      edit(
        t,
        `Nonce: ${fullGrant.grant.nonce}`,
        `Nonce: ${toBase58(concatBytes(sha512(utf8("long")), Uint8Array.of(1)))}`,
      ),
    ),
  );
  add(
    "grant-nonce-malformed-base58",
    "The nonce is not base58.",
    C.INVALID_BASE58,
    resigned(edit(t, `Nonce: ${fullGrant.grant.nonce}`, "Nonce: not-base58-0OIl")),
  );
  add(
    "grant-statement-control-character",
    "A tab in the statement: control characters are refused in every field.",
    C.INVALID_FIELD,
    resigned(edit(t, "Let this app post,", "Let this app\tpost,")),
  );
  add(
    "grant-statement-bidi-line-separator",
    "A U+2028 LINE SEPARATOR in the statement.",
    C.INVALID_FIELD,
    resigned(edit(t, "Let this app post,", "Let this app\u2028post,")),
  );
  add(
    "grant-statement-line-break",
    "A line feed in the statement breaks the line structure.",
    C.GRANT_TEXT_MALFORMED,
    resigned(edit(t, "Let this app post,", "Let this app\npost,")),
  );
  add(
    "grant-statement-too-long",
    "A statement of 281 bytes (at most 280).",
    C.FIELD_TOO_LARGE,
    resigned(edit(t, fullGrant.grant.statement, "x".repeat(281))),
  );
  add(
    "grant-device-too-long",
    "A device label of 65 bytes (at most 64).",
    C.FIELD_TOO_LARGE,
    resigned(edit(t, "Device: Test device", `Device: ${"d".repeat(65)}`)),
  );
  add(
    "grant-text-too-large",
    "More than 4096 bytes of text.",
    C.FIELD_TOO_LARGE,
    resigned(`${t}${"x".repeat(4096)}`),
  );
  add(
    "grant-trailing-newline",
    "The canonical text has no trailing line feed.",
    C.GRANT_TEXT_MALFORMED,
    resigned(`${t}\n`),
  );
  add(
    "grant-crlf-line-endings",
    "CRLF line endings instead of LF.",
    C.GRANT_TEXT_MALFORMED,
    resigned(t.replaceAll("\n", "\r\n")),
  );
  add(
    "grant-not-a-grant",
    "A Sign-In-With-Solana message is not a Sesame grant.",
    C.GRANT_TEXT_MALFORMED,
    resigned(
      edit(
        t,
        "wants you to start a Sesame session with your Solana account:",
        "wants you to sign in with your Solana account:",
      ),
    ),
  );
  add(
    "grant-impossible-date",
    "Issued At: February 30th.",
    C.GRANT_TEXT_MALFORMED,
    resigned(edit(t, "Issued At: 2026-11-26T12:00:00.000Z", "Issued At: 2026-02-30T12:00:00.000Z")),
  );
  add(
    "grant-expiration-before-not-before",
    "expirationTime is before notBefore.",
    C.INVALID_FIELD,
    resigned(
      edit(
        t,
        "Expiration Time: 2026-12-03T12:00:00.000Z",
        "Expiration Time: 2026-11-26T11:00:00.000Z",
      ),
    ),
  );
  add(
    "grant-scope-listed-twice",
    "The post permission appears twice.",
    C.GRANT_TEXT_MALFORMED,
    resigned(edit(t, "- reply:", "- post: at most 50 in total, at most 20 per hour\n- reply:")),
  );
  add(
    "grant-unknown-scope",
    "A permission for a scope that does not exist.",
    C.INVALID_FIELD,
    resigned(edit(t, "- reply:", "- repost: no total limit, no hourly limit\n- reply:")),
  );
  add(
    "grant-unknown-scope-constructor",
    "A scope named like an Object.prototype property is still an unknown scope.",
    C.INVALID_FIELD,
    resigned(edit(t, "- reply:", "- constructor: no total limit, no hourly limit\n- reply:")),
  );
  add(
    "grant-zero-cap",
    "`at most 0 in total`: a cap is null or 1 to 1,000,000.",
    C.GRANT_LIMITS_INVALID,
    resigned(edit(t, "at most 50 in total", "at most 0 in total")),
  );
  add(
    "grant-tip-without-budget",
    "The tip scope without a Tip Budget line.",
    C.GRANT_LIMITS_INVALID,
    resigned(t.replace(/\nTip Budget: [^\n]*/, "")),
  );
  add(
    "grant-domain-upper-case",
    "The domain must be lower case.",
    C.INVALID_FIELD,
    resigned(edit(t, "app.sesame.test wants", "App.Sesame.Test wants")),
  );
  add(
    "grant-wallet-malformed-base58",
    "The wallet line is not base58.",
    C.INVALID_BASE58,
    resigned(edit(t, `\n${alice.address}\n`, `\n0${alice.address.slice(1)}\n`)),
  );
  add(
    "grant-wallet-31-bytes",
    "The wallet line decodes to 31 bytes.",
    C.INVALID_LENGTH,
    resigned(edit(t, `\n${alice.address}\n`, `\n${toBase58(alice.publicKey.slice(1))}\n`)),
  );
  add(
    "grant-session-key-33-bytes",
    "The session key decodes to 33 bytes.",
    C.INVALID_LENGTH,
    resigned(
      edit(
        t,
        `Session Key: ${fullGrant.grant.sessionKey}`,
        `Session Key: ${toBase58(concatBytes(fullGrant.session.publicKey, Uint8Array.of(7)))}`,
      ),
    ),
  );

  // --- grants: the transaction form
  const fullMemo = `${GRANT_MEMO_PREFIX}${fullId}`;
  const txCase = (tx: BuiltTransaction | string, text = t) =>
    g({ text, transaction: typeof tx === "string" ? tx : tx.base64 });
  add(
    "grant-memo-other-grant",
    "The memo names another grant's id.",
    C.GRANT_MEMO_MISMATCH,
    txCase(
      buildTransaction(alice, [memoIx(`${GRANT_MEMO_PREFIX}${grantIdOfText(alice2Grant.text)}`)]),
    ),
  );
  add(
    "grant-memo-text-tampered",
    "The grant text is changed (and re-signed as a message would be) but the transaction's memo still names the original id.",
    C.GRANT_MEMO_MISMATCH,
    txCase(
      memoTransaction(fullGrant, fullMemo),
      edit(t, "at most 50 in total", "at most 51 in total"),
    ),
  );
  add(
    "grant-memo-fee-payer-not-wallet",
    "Bob pays the fee and signs; the memo carries alice's grant id.",
    C.GRANT_MEMO_MISMATCH,
    txCase(buildTransaction(bob, [memoIx(fullMemo)])),
  );
  add(
    "grant-memo-two-memos",
    "Two memo instructions.",
    C.GRANT_MEMO_MISMATCH,
    txCase(buildTransaction(alice, [memoIx(fullMemo), memoIx(fullMemo)])),
  );
  add(
    "grant-memo-other-program",
    "The grant id is sent to a program that is not a memo program: no memo at all.",
    C.GRANT_MEMO_MISMATCH,
    txCase(buildTransaction(alice, [memoIx(fullMemo, OTHER_PROGRAM)])),
  );
  add(
    "grant-memo-unsigned",
    "The wallet's signature slot is empty (all zeros).",
    C.GRANT_MEMO_MISMATCH,
    txCase(buildTransaction(alice, [memoIx(fullMemo)], [])),
  );
  {
    const tx = memoTransaction(fullGrant, fullMemo);
    const tampered = Uint8Array.from(tx.wire);
    // Flip one bit of the blockhash, inside the signed message.
    const at = tampered.length - utf8(fullMemo).length - 5;
    tampered[at] = (tampered[at] as number) ^ 1;
    add(
      "grant-memo-message-tampered",
      "One bit of the signed transaction message (the blockhash) flipped after signing.",
      C.BAD_SIGNATURE,
      txCase(base64.encode(tampered)),
    );
  }
  add(
    "grant-transaction-not-solana",
    "Base64 that is not a Solana transaction.",
    C.INVALID_FIELD,
    txCase(base64.encode(utf8("not a transaction"))),
  );

  // --- actions
  const a = (action: unknown) => ({ kind: "action" as const, grant: "alice-1", action });
  const session = fullGrant.session;
  const goodPost = act(fullGrant, "post", 1, 1, T0 + HOUR, {
    text: "hello",
    links: [],
    mentions: [],
  });
  add(
    "action-post-text-1025-bytes",
    "Post text of 1025 bytes (at most 1024).",
    C.FIELD_TOO_LARGE,
    a(signRaw(session, rawPost({ text: "a".repeat(1025) }))),
  );
  add(
    "action-post-text-multibyte-over-limit",
    "342 euro signs: 342 UTF-16 units but 1026 UTF-8 bytes. Limits count UTF-8 bytes.",
    C.FIELD_TOO_LARGE,
    a(signRaw(session, rawPost({ text: "€".repeat(342) }))),
  );
  add(
    "action-unknown-kind",
    "kind `repost` does not exist.",
    C.UNKNOWN_KIND,
    a(signRaw(session, rawPost({}, { kind: "repost" }))),
  );
  add(
    "action-unknown-payload-field",
    "An extra payload field, included in what was signed.",
    C.UNKNOWN_FIELD,
    a(signRaw(session, rawPost({}, { expires: T0 + DAY }))),
  );
  add(
    "action-unknown-body-field",
    "An extra body field, included in what was signed.",
    C.UNKNOWN_FIELD,
    a(signRaw(session, rawPost({ sensitive: true }))),
  );
  add(
    "action-unknown-wire-field",
    "An extra field next to payload and signature.",
    C.UNKNOWN_FIELD,
    a({ ...goodPost, id: actionIdOf(goodPost.payload) }),
  );
  add(
    "action-unsupported-version",
    "v: 2.",
    C.UNSUPPORTED_VERSION,
    a(signRaw(session, rawPost({}, { v: 2 }))),
  );
  add(
    "action-missing-field",
    "No ord.",
    C.INVALID_FIELD,
    a(signRaw(session, (({ ord: _, ...rest }) => rest)(rawPost()))),
  );
  add(
    "action-body-not-object",
    "The body is an array.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({}, { body: ["hello"] }))),
  );
  add(
    "action-wrong-grant",
    "Signed by alice's session key but naming another grant.",
    C.WRONG_GRANT,
    a(signRaw(session, rawPost({}, { grant: grantIdOfText(alice2Grant.text) }))),
  );
  add(
    "action-grant-malformed-base58",
    "The grant id is not base58.",
    C.INVALID_BASE58,
    a(signRaw(session, rawPost({}, { grant: `0${fullId.slice(1)}` }))),
  );
  add(
    "action-signed-by-another-key",
    "A valid payload signed by bob's session key.",
    C.BAD_SIGNATURE,
    a(signAction(postOnlyGrant.session, goodPost.payload)),
  );
  add(
    "action-payload-tampered",
    "The text is changed after signing.",
    C.BAD_SIGNATURE,
    a({
      payload: { ...goodPost.payload, body: { text: "HELLO", links: [], mentions: [] } },
      signature: goodPost.signature,
    }),
  );
  add(
    "action-signed-under-another-kind-prefix",
    "An unreact payload signed with the react prefix: the kind is part of the signed bytes.",
    C.BAD_SIGNATURE,
    a(signRaw(session, rawAction("unreact", { target: BOB_POST, reaction: "👍" }), "react")),
  );
  add(
    "action-signed-without-prefix",
    "The session key signed only the canonical JSON, without the domain-separating prefix.",
    C.BAD_SIGNATURE,
    a({
      payload: goodPost.payload,
      signature: toBase58(session.sign(utf8(canonicalJson(goodPost.payload)))),
    }),
  );
  add(
    "action-non-canonical-s",
    "S replaced by S + L.",
    C.NON_CANONICAL_SIGNATURE,
    a({ ...goodPost, signature: withSPlusL(goodPost.signature) }),
  );
  add(
    "action-signature-malformed-base58",
    "The signature is not base58.",
    C.INVALID_BASE58,
    a({ ...goodPost, signature: `${goodPost.signature.slice(0, -1)}0` }),
  );
  add(
    "action-signature-65-bytes",
    "The signature decodes to 65 bytes.",
    C.INVALID_LENGTH,
    a({
      ...goodPost,
      signature: toBase58(concatBytes(sigBytes(goodPost.signature), Uint8Array.of(1))),
    }),
  );
  add(
    "action-seq-zero",
    "Sequence numbers start at 1.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({}, { seq: 0 }))),
  );
  add(
    "action-seq-above-2^53",
    "seq = 2^53 is not a safe integer.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({}, { seq: 2 ** 53 }))),
  );
  add(
    "action-ord-fractional",
    "ord = 1.5.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({}, { ord: 1.5 }))),
  );
  add(
    "action-ts-negative",
    "A timestamp before 1970.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({}, { ts: -1 }))),
  );
  add(
    "action-ts-string",
    "A timestamp as a string.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({}, { ts: String(T0 + HOUR) }))),
  );
  add(
    "action-too-many-links",
    "Five links (at most 4).",
    C.FIELD_TOO_LARGE,
    a(signRaw(session, rawPost({ links: [1, 2, 3, 4, 5].map((i) => `https://sesame.test/${i}`) }))),
  );
  add(
    "action-link-not-http",
    "A javascript: link.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({ links: ["javascript:alert(1)"] }))),
  );
  add(
    "action-link-513-bytes",
    "A link of 513 bytes (at most 512).",
    C.FIELD_TOO_LARGE,
    a(signRaw(session, rawPost({ links: [`https://sesame.test/${"a".repeat(493)}`] }))),
  );
  add(
    "action-duplicate-mentions",
    "The same wallet mentioned twice.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({ mentions: [bob.address, bob.address] }))),
  );
  add(
    "action-too-many-mentions",
    "17 mentions (at most 16).",
    C.FIELD_TOO_LARGE,
    a(
      signRaw(
        session,
        rawPost({
          mentions: Array.from({ length: 17 }, (_, i) => testKey(`mention ${i}`).address),
        }),
      ),
    ),
  );
  add(
    "action-mention-wrong-length",
    "A mention that decodes to 31 bytes.",
    C.INVALID_LENGTH,
    a(signRaw(session, rawPost({ mentions: [toBase58(bob.publicKey.slice(0, 31))] }))),
  );
  add(
    "action-lone-surrogate",
    "Post text with a lone UTF-16 surrogate (no UTF-8 form), given as the exact wire text `actionJson` since a strict JSON parser refuses such an escape inside a vector file. Parse it as a node parses a request body.",
    C.INVALID_FIELD,
    {
      kind: "action",
      grant: "alice-1",
      actionJson: JSON.stringify(signRaw(session, rawPost({ text: "broken \ud800 text" }))),
    },
  );
  add(
    "action-empty-post",
    "Post text must not be empty.",
    C.INVALID_FIELD,
    a(signRaw(session, rawPost({ text: "" }))),
  );
  add(
    "action-reply-parent-wrong-length",
    "A reply whose parent id decodes to 33 bytes.",
    C.INVALID_LENGTH,
    a(
      signedRawBody("reply", {
        parent: toBase58(concatBytes(fromBase58(BOB_POST, "id"), Uint8Array.of(0))),
        text: "hi",
        links: [],
        mentions: [],
      }),
    ),
  );
  add(
    "action-reaction-33-bytes",
    "A reaction of 33 bytes (at most 32).",
    C.FIELD_TOO_LARGE,
    a(signedRawBody("react", { target: BOB_POST, reaction: "r".repeat(33) })),
  );
  add(
    "action-reaction-empty",
    "An empty reaction.",
    C.INVALID_FIELD,
    a(signedRawBody("react", { target: BOB_POST, reaction: "" })),
  );
  add(
    "action-follow-target-malformed",
    "The followed wallet is not base58.",
    C.INVALID_BASE58,
    a(signedRawBody("follow", { target: `l${bob.address.slice(1)}` })),
  );
  add(
    "action-profile-bio-281-bytes",
    "A bio of 281 bytes (at most 280).",
    C.FIELD_TOO_LARGE,
    a(signedRawBody("profile", { displayName: "Alice", bio: "b".repeat(281), avatarUrl: "" })),
  );
  add(
    "action-profile-display-name-65-bytes",
    "A display name of 65 bytes (at most 64).",
    C.FIELD_TOO_LARGE,
    a(signedRawBody("profile", { displayName: "n".repeat(65), bio: "", avatarUrl: "" })),
  );
  const dm = dmBody(bob.address, [testEncryptionKey("bob-session-1")], "invalid dm");
  const dmCopy = dm.copies[0] as (typeof dm.copies)[number];
  add(
    "action-dm-no-copies",
    "A direct message with no encrypted copy.",
    C.INVALID_FIELD,
    a(signedRawBody("dm", { ...dm, copies: [] })),
  );
  add(
    "action-dm-ciphertext-not-base64url",
    "The ciphertext uses the base64 (not base64url) alphabet.",
    C.INVALID_BASE64URL,
    a(signedRawBody("dm", { ...dm, copies: [{ ...dmCopy, ciphertext: "ab+/cd" }] })),
  );
  add(
    "action-dm-message-id-15-bytes",
    "A message id of 15 bytes (16 required).",
    C.INVALID_LENGTH,
    a(signedRawBody("dm", { ...dm, messageId: base58OfLength("dm id", 15) })),
  );
  add(
    "action-dm-17-copies",
    "17 copies (at most 16).",
    C.FIELD_TOO_LARGE,
    a(
      signedRawBody("dm", {
        ...dm,
        copies: Array.from({ length: 17 }, (_, i) => ({
          ...dmCopy,
          key: testEncryptionKey(`k${i}`),
        })),
      }),
    ),
  );
  add(
    "action-dm-duplicate-keys",
    "Two copies for the same key.",
    C.INVALID_FIELD,
    a(signedRawBody("dm", { ...dm, copies: [dmCopy, { ...dmCopy }] })),
  );
  const tip = defaultBody("tip", "invalid tip") as Record<string, unknown>;
  add(
    "action-tip-amount-zero",
    "A tip of 0 base units.",
    C.INVALID_FIELD,
    a(signedRawBody("tip", { ...tip, amount: "0" })),
  );
  add(
    "action-tip-amount-above-u64",
    "A tip of 2^64 base units.",
    C.INVALID_FIELD,
    a(signedRawBody("tip", { ...tip, amount: "18446744073709551616" })),
  );
  add(
    "action-tip-transaction-malformed",
    "The tip's transaction signature is not base58.",
    C.INVALID_BASE58,
    a(signedRawBody("tip", { ...tip, transaction: "not a signature" })),
  );
  add(
    "action-small-order-session-key",
    "The wallet granted the identity point as session key; the forged signature R = identity, S = 0 would satisfy the cofactorless equation for any action.",
    C.SMALL_ORDER_PUBLIC_KEY,
    {
      kind: "action",
      grant: "small-order-session",
      action: {
        payload: payload(grantIdOfText(smallOrderSessionGrant.text), "post", 1, 1, T0 + HOUR, {
          text: "forged",
          links: [],
          mentions: [],
        }),
        signature: toBase58(FORGED_SIGNATURE),
      },
    },
  );
  add(
    "action-non-canonical-session-key",
    "The wallet granted a session key encoding y = p + 2.",
    C.NON_CANONICAL_PUBLIC_KEY,
    {
      kind: "action",
      grant: "non-canonical-session",
      action: {
        payload: payload(grantIdOfText(nonCanonicalSessionGrant.text), "post", 1, 1, T0 + HOUR, {
          text: "hello",
          links: [],
          mentions: [],
        }),
        signature: goodPost.signature,
      },
    },
  );
  {
    // Search (deterministically) for a text whose k is not a multiple of 8.
    const mixedGrantId = grantIdOfText(mixedOrderSessionGrant.text);
    for (let i = 0; ; i++) {
      const p = payload(mixedGrantId, "post", 1, 1, T0 + HOUR, {
        text: `mixed-order key ${i}`,
        links: [],
        mentions: [],
      });
      const s = signWithScalar(mixedScalar, mixedPublicKey, actionSigningBytes(p), `mixed ${i}`);
      if (s.k % 8n === 0n) continue;
      add(
        "action-mixed-order-key-cofactored-only",
        "The session key is [a]B + T with T of order 8 (mixed order, not small order). S = r + k·a satisfies the cofactored equation [8][S]B = [8]R + [8][k]A but not the pinned cofactorless one, since k mod 8 ≠ 0. A cofactored verifier (e.g. @noble/curves' ed25519.verify) would accept it.",
        C.BAD_SIGNATURE,
        {
          kind: "action",
          grant: "mixed-order-session",
          action: { payload: p, signature: toBase58(s.signature) },
        },
      );
      break;
    }
  }

  // --- revocations
  const r = (revocation: unknown) => ({ kind: "revocation" as const, revocation });
  const oneRev = signedRevocation(
    alice,
    { kind: "grant", grant: fullId },
    null,
    T0 + 3 * HOUR,
    "one",
  );
  const rt = oneRev.text;
  add(
    "revocation-wrong-network",
    "A revocation for another node network.",
    C.GRANT_NETWORK_MISMATCH,
    r(signText(alice, edit(rt, "Network: sesame-test", "Network: sesame-other"))),
  );
  add(
    "revocation-signed-by-another-wallet",
    "Alice's revocation text signed by bob.",
    C.BAD_SIGNATURE,
    r(signText(bob, rt)),
  );
  add(
    "revocation-target-tampered",
    "The revoked session is changed after signing.",
    C.BAD_SIGNATURE,
    r({ text: edit(rt, fullId, grantIdOfText(alice2Grant.text)), signature: oneRev.signature }),
  );
  add(
    "revocation-non-canonical-s",
    "S replaced by S + L.",
    C.NON_CANONICAL_SIGNATURE,
    r({ text: rt, signature: withSPlusL(oneRev.signature) }),
  );
  add(
    "revocation-small-order-wallet-forgery",
    "The identity point as wallet with R = identity, S = 0.",
    C.SMALL_ORDER_PUBLIC_KEY,
    r({ text: edit(rt, alice.address, toBase58(IDENTITY)), signature: toBase58(FORGED_SIGNATURE) }),
  );
  add(
    "revocation-nonce-too-short",
    "A nonce of 8 bytes.",
    C.REVOCATION_MALFORMED,
    r(
      signText(
        alice,
        edit(rt, `Nonce: ${oneRev.revocation.nonce}`, `Nonce: ${base58OfLength("n", 8)}`),
      ),
    ),
  );
  add(
    "revocation-missing-empty-line",
    "No empty line after the wallet.",
    C.REVOCATION_MALFORMED,
    r(signText(alice, edit(rt, `${alice.address}\n\n`, `${alice.address}\n`))),
  );
  add(
    "revocation-unknown-target",
    "`Revoke: everything` names neither one session nor a time.",
    C.REVOCATION_MALFORMED,
    r(signText(alice, edit(rt, `Revoke: session ${fullId}`, "Revoke: everything"))),
  );
  add(
    "revocation-signature-malformed-base58",
    "The signature is not base58.",
    C.INVALID_BASE58,
    r({ text: rt, signature: `I${oneRev.signature.slice(1)}` }),
  );

  // --- equivocation proofs
  const e = (proof: unknown) => ({ kind: "equivocation" as const, grant: "alice-1", proof });
  const p1 = act(fullGrant, "post", 30, 20, T0 + 2 * HOUR, {
    text: "one",
    links: [],
    mentions: [],
  });
  add(
    "equivocation-identical-actions",
    "The same action twice is not an equivocation.",
    C.EQUIVOCATION_PROOF_INVALID,
    e({ a: p1, b: clone(p1) }),
  );
  add(
    "equivocation-no-collision",
    "Different sequence numbers and ordinals.",
    C.EQUIVOCATION_PROOF_INVALID,
    e({ a: p1, b: act(fullGrant, "post", 31, 21, T0 + 2 * HOUR) }),
  );
  add(
    "equivocation-same-ordinal-other-scope",
    "Post ordinal 20 and react ordinal 20 are in different scopes.",
    C.EQUIVOCATION_PROOF_INVALID,
    e({ a: p1, b: act(fullGrant, "react", 32, 20, T0 + 2 * HOUR) }),
  );
  add(
    "equivocation-bad-signature",
    "The second action's signature does not verify.",
    C.EQUIVOCATION_PROOF_INVALID,
    e({ a: p1, b: signAction(bob, act(fullGrant, "post", 30, 22, T0 + 2 * HOUR).payload) }),
  );
  add(
    "equivocation-other-grant",
    "The actions belong to another grant than the one the proof is checked against.",
    C.EQUIVOCATION_PROOF_INVALID,
    e({
      a: act(postOnlyGrant, "post", 1, 1, T0 + HOUR),
      b: act(postOnlyGrant, "post", 1, 2, T0 + HOUR),
    }),
  );

  // --- signed requests
  const now = CONTEXT.now;
  const inbox = `/v1/wallets/${alice.address}/inbox?limit=50`;
  const reqPayload = (overrides: Partial<RequestPayload> = {}): RequestPayload => ({
    v: 1,
    grant: fullId,
    method: "GET",
    path: inbox,
    ts: now,
    ...overrides,
  });
  const good = signRequest(session, reqPayload());
  const q = (request: unknown, expected = { method: "GET", path: inbox, now }) => ({
    kind: "request" as const,
    grant: "alice-1",
    request,
    expected,
  });
  add(
    "request-other-path",
    "Signed for the inbox, sent to another path.",
    C.UNAUTHORIZED_REQUEST,
    q(good, { method: "GET", path: `/v1/wallets/${bob.address}/inbox?limit=50`, now }),
  );
  add(
    "request-other-method",
    "Signed for GET, sent as DELETE.",
    C.UNAUTHORIZED_REQUEST,
    q(good, { method: "DELETE", path: inbox, now }),
  );
  add(
    "request-too-old",
    "Stamped 60,001 ms before the node's clock.",
    C.UNAUTHORIZED_REQUEST,
    q(signRequest(session, reqPayload({ ts: now - REQUEST_MAX_SKEW_MS - 1 }))),
  );
  add(
    "request-too-new",
    "Stamped 60,001 ms after the node's clock.",
    C.UNAUTHORIZED_REQUEST,
    q(signRequest(session, reqPayload({ ts: now + REQUEST_MAX_SKEW_MS + 1 }))),
  );
  add(
    "request-signed-by-another-key",
    "Signed by bob's session key.",
    C.UNAUTHORIZED_REQUEST,
    q(signRequest(postOnlyGrant.session, reqPayload())),
  );
  add(
    "request-non-canonical-s",
    "S replaced by S + L.",
    C.UNAUTHORIZED_REQUEST,
    q({ ...good, signature: withSPlusL(good.signature) }),
  );
  add(
    "request-unknown-field",
    "An extra payload field.",
    C.UNAUTHORIZED_REQUEST,
    q({ payload: { ...good.payload, body: "" }, signature: good.signature }),
  );
  add(
    "request-other-grant",
    "Names another session's grant.",
    C.UNAUTHORIZED_REQUEST,
    q(
      signRequest(
        session,
        reqPayload({ grant: grantIdOfText(alice2Grant.text) as RequestPayload["grant"] }),
      ),
    ),
  );
  add(
    "request-signature-malformed-base58",
    "The signature is not base58: a signed request's every refusal is 6005.",
    C.UNAUTHORIZED_REQUEST,
    q({ ...good, signature: `O${good.signature.slice(1)}` }),
  );

  // --- policy (through applyAction, from initialSessionState)
  const pol = (steps: PolicyStep[]) => ({ kind: "policy" as const, grant: "limited", steps });
  const err = expectedError;
  add(
    "policy-over-cap",
    "Post ordinal 4 with a cap of 3.",
    C.OVER_CAP,
    pol([step(W + MINUTE, lp(1, 4, W + MINUTE), err(C.OVER_CAP))]),
  );
  add(
    "policy-over-rate",
    "A 4th reaction within the hour with a rate of 3 per hour.",
    C.OVER_RATE,
    pol([
      step(W, lr(1, 1, W), ACCEPTED),
      step(W + MINUTE, lr(2, 2, W + MINUTE), ACCEPTED),
      step(W + 2 * MINUTE, lr(3, 3, W + 2 * MINUTE), ACCEPTED),
      step(W + 3 * MINUTE, lr(4, 4, W + 3 * MINUTE), err(C.OVER_RATE)),
    ]),
  );
  add(
    "policy-timestamp-in-future",
    "Stamped 60,001 ms ahead of the node's clock.",
    C.TIMESTAMP_IN_FUTURE,
    pol([step(W + MINUTE, lp(1, 1, W + MINUTE + 60_001), err(C.TIMESTAMP_IN_FUTURE))]),
  );
  add(
    "policy-not-yet-valid",
    "Stamped (and received) 1 ms before the grant's notBefore.",
    C.OUTSIDE_WINDOW,
    pol([step(W - 1, lp(1, 1, W - 1), err(C.OUTSIDE_WINDOW))]),
  );
  add(
    "policy-at-expiration",
    "Stamped at expirationTime (the window is half-open).",
    C.OUTSIDE_WINDOW,
    pol([step(E, lp(1, 1, E), err(C.OUTSIDE_WINDOW))]),
  );
  add(
    "policy-expired",
    "Stamped inside the window but received lateGraceMs after expiration.",
    C.SESSION_EXPIRED,
    pol([step(E + 10 * MINUTE, lp(1, 1, E - MINUTE), err(C.SESSION_EXPIRED))]),
  );
  add(
    "policy-scope-not-granted",
    "A direct message under a grant without the dm scope.",
    C.SCOPE_NOT_GRANTED,
    pol([step(W + MINUTE, act(limitedGrant, "dm", 1, 1, W + MINUTE), err(C.SCOPE_NOT_GRANTED))]),
  );
  add(
    "policy-revoked",
    "An action after the session's revocation.",
    C.SESSION_REVOKED,
    pol([
      revocationStep(
        W,
        signedRevocation(alice, { kind: "grant", grant: limitedId }, null, W, "policy revoked"),
        true,
      ),
      step(W + MINUTE, lp(1, 1, W + MINUTE), err(C.SESSION_REVOKED)),
    ]),
  );
  add(
    "policy-equivocation",
    "A different post reusing an accepted post's sequence number.",
    C.EQUIVOCATION,
    pol([
      step(W + MINUTE, lp(1, 1, W + MINUTE), ACCEPTED),
      step(W + 2 * MINUTE, lp(1, 2, W + 2 * MINUTE, "other"), err(C.EQUIVOCATION)),
    ]),
  );
  add(
    "policy-revoked-by-equivocation",
    "After a proven equivocation the session is revoked.",
    C.SESSION_REVOKED,
    pol([
      step(W + MINUTE, lp(1, 1, W + MINUTE), ACCEPTED),
      step(W + 2 * MINUTE, lp(2, 1, W + 2 * MINUTE), err(C.EQUIVOCATION)),
      step(W + 3 * MINUTE, lp(3, 2, W + 3 * MINUTE), err(C.SESSION_REVOKED)),
    ]),
  );
  return cases;
}

const INVALID_GRANTS: Record<string, GrantFixture> = {
  "alice-1": fullGrant,
  limited: limitedGrant,
  "small-order-session": smallOrderSessionGrant,
  "non-canonical-session": nonCanonicalSessionGrant,
  "mixed-order-session": mixedOrderSessionGrant,
};

function invalidFile(): InvalidFile & { description: string } {
  return {
    description:
      "Invalid inputs, each with the numeric error code (ErrorCode) a verifier must answer. kind grant: verifyGrant(grant, context). action: verifyAction(action) against grants[grant]. revocation: verifyRevocation(revocation, context). equivocation: verifyEquivocation(proof) against grants[grant]. request: decodeSignedRequest(request) then verifySignedRequest with `expected`. policy: run `steps` as in policy.json against grants[grant]; every step but the last goes as recorded, the last gives the code. Every grant in `grants` is valid.",
    context: CONTEXT,
    grants: Object.fromEntries(
      Object.entries(INVALID_GRANTS).map(([name, f]) => [
        name,
        { text: f.text, signature: f.signature },
      ]),
    ),
    cases: invalidCases(),
  };
}

// ---------------------------------------------------------------------------------------
// ed25519.json

function ed25519File() {
  const cases: Ed25519Case[] = [];
  const add = (
    name: string,
    description: string,
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
    code: ErrorCode | null,
  ) => {
    cases.push({
      name,
      description,
      publicKeyHex: toHex(publicKey),
      messageHex: toHex(message),
      signatureHex: toHex(signature),
      expected: code === null ? { outcome: "valid" } : expectedError(code),
    });
  };
  const rfc = [
    {
      secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      message: "",
      signature:
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    },
    {
      secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
      message: "72",
      signature:
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    },
  ];
  const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
  rfc.forEach((v, i) => {
    const secret = fromHex(v.secret);
    const message = fromHex(v.message);
    if (
      toHex(ed25519.getPublicKey(secret)) !== v.publicKey ||
      toHex(ed25519.sign(message, secret)) !== v.signature
    )
      throw new Error(`RFC 8032 test ${i + 1} does not reproduce`);
    add(
      `rfc8032-test-${i + 1}`,
      `RFC 8032 section 7.1, TEST ${i + 1}.`,
      fromHex(v.publicKey),
      message,
      fromHex(v.signature),
      null,
    );
  });
  const msg = utf8("sesame");
  const sig = alice.sign(msg);
  add("valid", "A signature by a fixture key.", alice.publicKey, msg, sig, null);
  add(
    "wrong-message",
    "The same signature over another message.",
    alice.publicKey,
    utf8("sesamE"),
    sig,
    ErrorCode.BAD_SIGNATURE,
  );
  add(
    "wrong-key",
    "The same signature under another key.",
    bob.publicKey,
    msg,
    sig,
    ErrorCode.BAD_SIGNATURE,
  );
  const withS = (s: bigint) => concatBytes(sig.slice(0, 32), bigintToLe(s));
  const S = leToBigint(sig.slice(32));
  add(
    "s-plus-l",
    "S + L: the same scalar mod L, non-canonical.",
    alice.publicKey,
    msg,
    withS(S + L),
    ErrorCode.NON_CANONICAL_SIGNATURE,
  );
  add("s-equals-l", "S = L.", alice.publicKey, msg, withS(L), ErrorCode.NON_CANONICAL_SIGNATURE);
  add(
    "s-max",
    "S = 2^256 - 1.",
    alice.publicKey,
    msg,
    withS(2n ** 256n - 1n),
    ErrorCode.NON_CANONICAL_SIGNATURE,
  );
  add(
    "s-l-minus-1",
    "S = L - 1 is canonical; the equation then fails.",
    alice.publicKey,
    msg,
    withS(L - 1n),
    ErrorCode.BAD_SIGNATURE,
  );
  SMALL_ORDER_ENCODINGS.forEach((encoding, i) => {
    for (const sign of [0, 0x80]) {
      const key = Uint8Array.from(encoding);
      key[31] = (key[31] as number) | sign;
      add(
        `small-order-key-${i}${sign ? "-sign-bit" : ""}`,
        i === 1 && sign === 0
          ? "The identity as public key with R = identity, S = 0: the classic forgery, valid for every message under an unchecked equation."
          : `Small-order public key encoding ${i}${sign ? " with the sign bit set" : ""}, R = identity, S = 0.`,
        key,
        msg,
        FORGED_SIGNATURE,
        ErrorCode.SMALL_ORDER_PUBLIC_KEY,
      );
    }
  });
  for (const [label, y] of [
    ["p-plus-2", P + 2n],
    ["p-plus-18", P + 18n],
  ] as const) {
    for (const sign of [0, 0x80]) {
      const key = bigintToLe(y);
      key[31] = (key[31] as number) | sign;
      add(
        `non-canonical-key-${label}${sign ? "-sign-bit" : ""}`,
        `A public key encoding y = ${label.replaceAll("-", " ")} (y >= p).`,
        key,
        msg,
        sig,
        ErrorCode.NON_CANONICAL_PUBLIC_KEY,
      );
    }
  }
  // The smallest y whose encoding is not a point on the curve.
  let offCurve: Uint8Array | null = null;
  for (let y = 2n; offCurve === null; y++) {
    const key = bigintToLe(y);
    try {
      ed25519.Point.fromBytes(key);
    } catch {
      offCurve = key;
    }
  }
  add(
    "key-not-on-curve",
    "A canonical y with no x on the curve.",
    offCurve,
    msg,
    sig,
    ErrorCode.BAD_SIGNATURE,
  );
  // R = identity, produced by the key holder (r = 0): the cofactorless equation holds.
  const a = keyScalar(alice);
  const rIdentity = signWithScalar(a, alice.publicKey, msg, "r identity", IDENTITY);
  add(
    "r-identity-by-key-holder",
    "R = identity (the signer chose r = 0), S = k·a. The pinned rule does not check R's order, so this verifies; libsodium's verify refuses small-order R and must not be used as is.",
    alice.publicKey,
    msg,
    rIdentity.signature,
    null,
  );
  const nonCanonicalIdentity = bigintToLe(P + 1n);
  const rNonCanonical = signWithScalar(a, alice.publicKey, msg, "r identity", nonCanonicalIdentity);
  add(
    "r-non-canonical",
    "R is the non-canonical encoding of the identity (y = p + 1), S = k·a. R is compared as encoded bytes, so it never verifies.",
    alice.publicKey,
    msg,
    rNonCanonical.signature,
    ErrorCode.BAD_SIGNATURE,
  );
  // Mixed-order key: valid exactly when [k]T = 0, i.e. k ≡ 0 (mod 8).
  let foundValid = false;
  let foundInvalid = false;
  for (let i = 0; !(foundValid && foundInvalid); i++) {
    const m = utf8(`mixed-order ${i}`);
    const s = signWithScalar(mixedScalar, mixedPublicKey, m, `mixed raw ${i}`);
    if (!foundValid && s.k % 8n === 0n && s.h % 8n === 0n) {
      foundValid = true;
      add(
        "mixed-order-key-cofactorless-holds",
        "A mixed-order key ([a]B + T, T of order 8) is not small order and is accepted; here k ≡ 0 (mod 8), so the cofactorless equation holds.",
        mixedPublicKey,
        m,
        s.signature,
        null,
      );
    } else if (!foundInvalid && s.k % 8n !== 0n) {
      foundInvalid = true;
      add(
        "mixed-order-key-cofactored-only",
        "The same mixed-order key, k mod 8 ≠ 0: only the cofactored equation holds, so the pinned (cofactorless) rule refuses it.",
        mixedPublicKey,
        m,
        s.signature,
        ErrorCode.BAD_SIGNATURE,
      );
    }
  }
  add(
    "signature-63-bytes",
    "A 63-byte signature.",
    alice.publicKey,
    msg,
    sig.slice(0, 63),
    ErrorCode.INVALID_LENGTH,
  );
  add(
    "key-31-bytes",
    "A 31-byte public key.",
    alice.publicKey.slice(0, 31),
    msg,
    sig,
    ErrorCode.INVALID_LENGTH,
  );
  return {
    description:
      "The pinned Ed25519 rule (verifyEd25519Strict): 64-byte signature and 32-byte key; S < L; the key is not one of the small-order encodings (sign bit ignored); the key's y < p; then the cofactorless equation [S]B = R + [k]A with k = SHA-512(R || A || M) mod L and R compared as bytes. Each case gives the public key, message and signature (hex) and either `valid` or the error code.",
    cases,
  };
}

// ---------------------------------------------------------------------------------------
// Generation and self-check

export type GrantsFile = ReturnType<typeof grantsFile>;
export type ActionsFile = ReturnType<typeof actionsFile>;
export type RevocationsFile = ReturnType<typeof revocationsFile>;
export type EquivocationsFile = ReturnType<typeof equivocationsFile>;
export type RequestsFile = ReturnType<typeof requestsFile>;
export type PolicyFile = Awaited<ReturnType<typeof policyFile>>;
export type Ed25519File = ReturnType<typeof ed25519File>;

/** One file's JSON text, exactly as committed: 2-space indentation and a final newline. */
export function serializeVectorFile(content: unknown): string {
  return `${JSON.stringify(content, null, 2)}\n`;
}

async function checkInvalid(file: InvalidFile, backend: Ed25519Backend): Promise<void> {
  const names = new Set<string>();
  for (const c of file.cases) {
    if (names.has(c.name)) throw new Error(`duplicate invalid case name ${c.name}`);
    names.add(c.name);
    const actual = await runInvalidCase(c, file, backend);
    if (actual !== c.expectedCode) {
      throw new Error(
        `invalid case ${c.name} (${backend.name}): expected ${c.expectedCode} ${c.expectedName}, got ${actual === null ? "acceptance" : `${actual} ${errorName(actual as ErrorCode)}`}`,
      );
    }
  }
}

async function checkValid(files: Record<string, unknown>, backend: Ed25519Backend): Promise<void> {
  const ctx = verifyContextOf(CONTEXT);
  const grants = files.grants as ReturnType<typeof grantsFile>;
  for (const v of grants.vectors) {
    const vg = await verifyGrant(
      v.form === "message"
        ? { text: v.text, signature: v.signature }
        : { text: v.text, transaction: (v as { transaction: string }).transaction },
      ctx,
      backend,
    );
    if (vg.id !== v.grantId || vg.signature !== v.signature || vg.form !== v.form)
      throw new Error(`grant vector ${v.name} does not verify as recorded`);
    if (JSON.stringify(parseGrantText(v.text)) !== JSON.stringify(v.grant))
      throw new Error(`grant vector ${v.name} does not parse as recorded`);
  }
  const actions = files.actions as ReturnType<typeof actionsFile>;
  const ag = await verifyGrant(actions.grant, ctx, backend);
  for (const v of actions.vectors) {
    const va = await verifyAction(v.action, ag, backend);
    if (va.id !== v.actionId || toHex(va.bytes) !== v.signedBytesHex)
      throw new Error(`action vector ${v.name} does not verify as recorded`);
  }
  const revocations = files.revocations as ReturnType<typeof revocationsFile>;
  for (const v of revocations.vectors) {
    const vr = await verifyRevocation({ text: v.text, signature: v.signature }, ctx, backend);
    if (vr.id !== v.revocationId) throw new Error(`revocation ${v.name} id`);
  }
  const equivocations = files.equivocations as ReturnType<typeof equivocationsFile>;
  const eg = await verifyGrant(equivocations.grant, ctx, backend);
  for (const v of equivocations.vectors) {
    const ve = await verifyEquivocation(v.proof, eg, backend);
    if (ve.by !== v.expectedBy) throw new Error(`equivocation ${v.name}: by ${ve.by}`);
  }
  const requests = files.requests as ReturnType<typeof requestsFile>;
  const rg = await verifyGrant(requests.grant, ctx, backend);
  for (const v of requests.vectors) await verifySignedRequest(v.request, v.expected, rg, backend);
  const ed = files.ed25519 as ReturnType<typeof ed25519File>;
  for (const c of ed.cases) {
    const actual = await runEd25519Case(c, backend);
    if (JSON.stringify(actual) !== JSON.stringify(c.expected))
      throw new Error(`ed25519 case ${c.name} (${backend.name}): got ${JSON.stringify(actual)}`);
  }
}

/**
 * Builds every vector file (name → JSON content) and checks each recorded outcome against
 * the real code with both backends, on the JSON form that will be written. Throws on any
 * difference.
 */
export async function generateVectors(): Promise<Record<string, unknown>> {
  const backends = [nodeEd25519(), webEd25519()];
  const files: Record<string, unknown> = {
    grants: grantsFile(),
    actions: actionsFile(),
    revocations: revocationsFile(),
    equivocations: equivocationsFile(),
    requests: requestsFile(),
    policy: await policyFile(backends[0] as Ed25519Backend),
    invalid: invalidFile(),
    ed25519: ed25519File(),
  };
  // Check what will be written: the JSON round trip of each file.
  const written = clone(files);
  for (const backend of backends) {
    await checkValid(written, backend);
    await checkInvalid(written.invalid as InvalidFile, backend);
    const policy = await policyFile(backend);
    if (serializeVectorFile(policy) !== serializeVectorFile(written.policy))
      throw new Error(`policy.json differs under ${backend.name}`);
  }
  return files;
}
