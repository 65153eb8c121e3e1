import { base64 } from "@scure/base";
import { getTransactionDecoder, getTransactionEncoder } from "@solana/kit";
import { describe, expect, it } from "vitest";
import {
  DAY,
  makeGrant,
  signAction,
  signRevocation,
  T0,
  TEST_CONTEXT,
  testKey,
  testNonce,
} from "../scripts/fixtures.js";
import { webEd25519 } from "../src/crypto/web-crypto.js";
import {
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  DEFAULT_MEMO_PROGRAMS,
  ErrorCode,
  GRANT_MEMO_PREFIX,
  grantIdOf,
  type Revocation,
  restoreVerifiedGrant,
  revocationIdOfText,
  type Signature,
  type SignedAction,
  scopeOf,
  toBase58,
  utf8,
  type VerifiedGrant,
  type VerifyContext,
  verifyAction,
  verifyEquivocation,
  verifyGrant,
  verifyRevocation,
  type WalletAddress,
} from "../src/index.js";
import {
  backend,
  expectCode,
  expectCodeAsync,
  grantTransaction,
  MEMO_V1,
  MEMO_V3,
  payloadOf,
  verifiedGrant,
} from "./helpers.js";

const f = makeGrant();
const id = grantIdOf(f.grant);
const mallory = testKey("mallory");
const message = () => ({ text: f.text, signature: f.signature });
/** A grant whose text fits in a transaction's memo. */
const small = makeGrant("alice", "small-session", {
  statement: "Post for me.",
  scopes: ["post"],
  limits: { post: { total: 10, perHour: 5 } },
  tipBudget: null,
});

describe("verifyGrant, message form", () => {
  it("accepts the wallet's signature over the text and returns a frozen verified grant", async () => {
    const v = await verifyGrant(message(), TEST_CONTEXT, backend);
    expect(v.id).toBe(id);
    expect(v.grant).toEqual(f.grant);
    expect(v.text).toBe(f.text);
    expect(v.signature).toBe(f.signature);
    expect(v.form).toBe("message");
    expect(v.sessionKeyBytes).toEqual(f.session.publicKey);
    expect(Object.isFrozen(v)).toBe(true);
  });

  it("gives the same answer with the WebCrypto backend", async () => {
    const v = await verifyGrant(message(), TEST_CONTEXT, webEd25519());
    expect(v.id).toBe(id);
  });

  it("refuses a grant for another chain with 3003", async () => {
    const e = await expectCodeAsync(
      () => verifyGrant(message(), { ...TEST_CONTEXT, chain: "solana:mainnet" }, backend),
      ErrorCode.GRANT_CHAIN_MISMATCH,
    );
    expect(e.context).toEqual({ expected: "solana:mainnet", actual: "solana:localnet" });
  });

  it("refuses a grant for another node network with 3004", async () => {
    const e = await expectCodeAsync(
      () => verifyGrant(message(), { ...TEST_CONTEXT, network: "sesame-mainnet" }, backend),
      ErrorCode.GRANT_NETWORK_MISMATCH,
    );
    expect(e.context).toEqual({ expected: "sesame-mainnet", actual: "sesame-test" });
  });

  it("refuses a grant for an app domain not listed with 3002, and accepts a listed one", async () => {
    const e = await expectCodeAsync(
      () => verifyGrant(message(), { ...TEST_CONTEXT, domains: ["a.test", "b.test"] }, backend),
      ErrorCode.GRANT_DOMAIN_MISMATCH,
    );
    expect(e.context).toEqual({ expected: "a.test or b.test", actual: "app.sesame.test" });
    const v = await verifyGrant(
      message(),
      { ...TEST_CONTEXT, domains: ["a.test", "app.sesame.test"] },
      backend,
    );
    expect(v.id).toBe(id);
  });

  it("refuses a lifetime over maxLifetimeMs with 3005, and over 30 days by default", async () => {
    const e = await expectCodeAsync(
      () => verifyGrant(message(), { ...TEST_CONTEXT, maxLifetimeMs: DAY }, backend),
      ErrorCode.GRANT_LIFETIME_TOO_LONG,
    );
    expect(e.context).toEqual({ maxMs: DAY, actualMs: 7 * DAY });
    const exact = await verifyGrant(
      message(),
      { ...TEST_CONTEXT, maxLifetimeMs: 7 * DAY },
      backend,
    );
    expect(exact.id).toBe(id);

    const thirty = makeGrant("alice", "s30", { expirationTime: T0 + 30 * DAY });
    const v30 = await verifyGrant(
      { text: thirty.text, signature: thirty.signature },
      TEST_CONTEXT,
      backend,
    );
    expect(v30.grant.expirationTime - v30.grant.notBefore).toBe(30 * DAY);
    const longer = makeGrant("alice", "s31", { expirationTime: T0 + 30 * DAY + 1 });
    await expectCodeAsync(
      () => verifyGrant({ text: longer.text, signature: longer.signature }, TEST_CONTEXT, backend),
      ErrorCode.GRANT_LIFETIME_TOO_LONG,
    );
  });

  it("refuses a signature by another wallet with 2001 naming the grant's wallet", async () => {
    const signature = toBase58(mallory.sign(utf8(f.text))) as Signature;
    const e = await expectCodeAsync(
      () => verifyGrant({ text: f.text, signature }, TEST_CONTEXT, backend),
      ErrorCode.BAD_SIGNATURE,
    );
    expect(e.context).toEqual({ signer: f.wallet.address });
  });

  it("refuses a text changed after signing with 2001", async () => {
    const other = makeGrant("alice", "alice-session-1", { device: "Another device" });
    await expectCodeAsync(
      () => verifyGrant({ text: other.text, signature: f.signature }, TEST_CONTEXT, backend),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it("binds a wallet's signature to grants naming that wallet only", async () => {
    // Mallory signs a grant naming herself; it verifies, but for her wallet only.
    const m = makeGrant("mallory", "alice-session-1");
    const v = await verifyGrant({ text: m.text, signature: m.signature }, TEST_CONTEXT, backend);
    expect(v.grant.wallet).toBe(mallory.address);
    // Her signature does not carry over to the same grant naming Alice.
    await expectCodeAsync(
      () => verifyGrant({ text: f.text, signature: m.signature }, TEST_CONTEXT, backend),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it("refuses a non-canonical signature (S + L) with 2002", async () => {
    const sig = f.wallet.sign(utf8(f.text));
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] as number);
    s += 2n ** 252n + 27742317777372353535851937790883648493n;
    for (let i = 32; i < 64; i++) {
      sig[i] = Number(s & 0xffn);
      s >>= 8n;
    }
    await expectCodeAsync(
      () =>
        verifyGrant({ text: f.text, signature: toBase58(sig) as Signature }, TEST_CONTEXT, backend),
      ErrorCode.NON_CANONICAL_SIGNATURE,
    );
  });

  it("refuses a malformed signature with 1004 or 1008", async () => {
    await expectCodeAsync(
      () => verifyGrant({ text: f.text, signature: "0x" as Signature }, TEST_CONTEXT, backend),
      ErrorCode.INVALID_BASE58,
    );
    await expectCodeAsync(
      () =>
        verifyGrant(
          { text: f.text, signature: toBase58(new Uint8Array(32)) as Signature },
          TEST_CONTEXT,
          backend,
        ),
      ErrorCode.INVALID_LENGTH,
    );
  });

  it("checks the binding before the signature, so a cheap refusal comes first", async () => {
    await expectCodeAsync(
      () =>
        verifyGrant(
          { text: f.text, signature: toBase58(new Uint8Array(64)) as Signature },
          { ...TEST_CONTEXT, network: "elsewhere" },
          backend,
        ),
      ErrorCode.GRANT_NETWORK_MISMATCH,
    );
  });

  it("refuses malformed text with 3001, a non-object with 1002, and no proof with 1002", async () => {
    await expectCodeAsync(
      () => verifyGrant({ text: `${f.text}\n`, signature: f.signature }, TEST_CONTEXT, backend),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
    await expectCodeAsync(
      () => verifyGrant(null as never, TEST_CONTEXT, backend),
      ErrorCode.INVALID_FIELD,
    );
    const e = await expectCodeAsync(
      () => verifyGrant({ text: f.text } as never, TEST_CONTEXT, backend),
      ErrorCode.INVALID_FIELD,
    );
    expect(e.context).toEqual({
      field: "grant",
      reason: "needs either a signature or a transaction",
    });
  });
});

describe("restoreVerifiedGrant", () => {
  it("rebuilds what verifyGrant returned from the stored text, signature and form", async () => {
    const verified = await verifyGrant(message(), TEST_CONTEXT, backend);
    const restored = restoreVerifiedGrant({
      text: f.text,
      signature: f.signature,
      form: "message",
    });
    expect(restored).toEqual(verified);
    expect(Object.isFrozen(restored)).toBe(true);
  });

  it("parses the stored text again, refusing text that is not canonical with 3001", () => {
    expectCode(
      () => restoreVerifiedGrant({ text: `${f.text}\n`, signature: f.signature, form: "message" }),
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
  });
});

describe("verifyGrant, transaction form", () => {
  const idMemo = `${GRANT_MEMO_PREFIX}${id}`;
  const tx = (options: Partial<Parameters<typeof grantTransaction>[0]> = {}) =>
    grantTransaction({ memos: [idMemo], feePayer: f.wallet, ...options });
  const verifyTx = (transaction: string, ctx: VerifyContext = TEST_CONTEXT) =>
    verifyGrant({ text: f.text, transaction }, ctx, backend);

  it("accepts a legacy transaction whose memo names the grant id, with the message form's id", async () => {
    const byMessage = await verifyGrant(message(), TEST_CONTEXT, backend);
    const transaction = tx({ version: "legacy" });
    const v = await verifyTx(transaction);
    expect(v.id).toBe(byMessage.id);
    expect(v.grant).toEqual(byMessage.grant);
    expect(v.form).toBe("transaction");
    expect(Object.isFrozen(v)).toBe(true);
    // The returned signature is the transaction's: the wallet's signature in the wire bytes.
    const wire = base64.decode(transaction);
    expect(v.signature).toBe(toBase58(wire.subarray(1, 65)));
  });

  it("accepts a v0 transaction whose memo is the full grant text, when it fits", async () => {
    const byMessage = await verifyGrant(
      { text: small.text, signature: small.signature },
      TEST_CONTEXT,
      backend,
    );
    const transaction = tx({ version: 0, memos: [small.text] });
    const v = await verifyGrant({ text: small.text, transaction }, TEST_CONTEXT, backend);
    expect(v.id).toBe(byMessage.id);
    expect(v.form).toBe("transaction");
  });

  it("refuses a transaction over Solana's 1232-byte limit with 1003", async () => {
    // The full seven-scope grant text and a second instruction do not fit in one transaction.
    const e = await expectCodeAsync(
      () => verifyTx(tx({ memos: [f.text] })),
      ErrorCode.FIELD_TOO_LARGE,
    );
    expect(e.context).toMatchObject({ field: "transaction", max: 1232 });
  });

  it("accepts the Memo v1 program and refuses a program not configured", async () => {
    const t = tx({ memoProgram: MEMO_V1 });
    expect((await verifyTx(t)).id).toBe(id);
    expect(DEFAULT_MEMO_PROGRAMS).toEqual([MEMO_V1, MEMO_V3]);
    const e = await expectCodeAsync(
      () => verifyTx(t, { ...TEST_CONTEXT, memoPrograms: [MEMO_V3] }),
      ErrorCode.GRANT_MEMO_MISMATCH,
    );
    expect(e.context).toEqual({ reason: "expected one memo instruction, found 0" });
  });

  it("refuses a transaction without a memo with 3011", async () => {
    await expectCodeAsync(() => verifyTx(tx({ memos: [] })), ErrorCode.GRANT_MEMO_MISMATCH);
  });

  it("refuses a transaction with two memos with 3011", async () => {
    const e = await expectCodeAsync(
      () => verifyTx(tx({ memos: [idMemo, idMemo] })),
      ErrorCode.GRANT_MEMO_MISMATCH,
    );
    expect(e.context).toEqual({ reason: "expected one memo instruction, found 2" });
  });

  it("refuses a memo with other text, or another grant's id, with 3011", async () => {
    const otherId = grantIdOf(makeGrant("alice", "another-session").grant);
    for (const memo of ["hello", `${GRANT_MEMO_PREFIX}${otherId}`, id, small.text, ""]) {
      const e = await expectCodeAsync(
        () => verifyTx(tx({ memos: [memo] })),
        ErrorCode.GRANT_MEMO_MISMATCH,
      );
      expect(e.context).toEqual({ reason: "the memo is neither the grant text nor its id" });
    }
  });

  it("refuses a memo that is not UTF-8 with 1002", async () => {
    await expectCodeAsync(
      () => verifyTx(tx({ memos: [Uint8Array.of(0xff, 0xfe)] })),
      ErrorCode.INVALID_FIELD,
    );
  });

  it("refuses a transaction whose fee payer is not the wallet with 3011, even if the wallet co-signs", async () => {
    const e = await expectCodeAsync(
      () => verifyTx(tx({ feePayer: mallory, cosigner: f.wallet })),
      ErrorCode.GRANT_MEMO_MISMATCH,
    );
    expect(e.context).toEqual({ reason: "the wallet is not the fee payer" });
  });

  it("refuses a transaction the wallet did not sign with 3011", async () => {
    const e = await expectCodeAsync(
      () => verifyTx(tx({ signer: null })),
      ErrorCode.GRANT_MEMO_MISMATCH,
    );
    expect(e.context).toEqual({ reason: "the wallet did not sign the transaction" });
  });

  it("refuses a transaction signed by another key with 2001", async () => {
    const e = await expectCodeAsync(
      () => verifyTx(tx({ signer: mallory })),
      ErrorCode.BAD_SIGNATURE,
    );
    expect(e.context).toEqual({ signer: f.wallet.address });
  });

  it("refuses a transaction whose message was changed after signing with 2001", async () => {
    const decoded = getTransactionDecoder().decode(base64.decode(tx()));
    const messageBytes = Uint8Array.from(decoded.messageBytes);
    // Change the recent blockhash: the memo still matches, only the signature breaks.
    const blockhash = testKey("blockhash").publicKey;
    const at = Buffer.from(messageBytes).indexOf(Buffer.from(blockhash));
    expect(at).toBeGreaterThan(0);
    messageBytes[at] = (messageBytes[at] as number) ^ 1;
    const wire = getTransactionEncoder().encode({
      ...decoded,
      messageBytes: messageBytes as unknown as typeof decoded.messageBytes,
    });
    await expectCodeAsync(
      () => verifyTx(base64.encode(Uint8Array.from(wire))),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it("refuses a v1 transaction with 3011", async () => {
    const e = await expectCodeAsync(
      () => verifyTx(tx({ version: 1 })),
      ErrorCode.GRANT_MEMO_MISMATCH,
    );
    expect(e.context).toEqual({ reason: "only legacy and v0 transactions are accepted" });
  });

  it("refuses what is not a base64 Solana transaction with 1002, and oversized input with 1003", async () => {
    const e = await expectCodeAsync(() => verifyTx("not base64!"), ErrorCode.INVALID_FIELD);
    expect(e.context).toEqual({ field: "transaction", reason: "not base64" });
    const e2 = await expectCodeAsync(
      () => verifyTx(base64.encode(Uint8Array.of(1, 2, 3))),
      ErrorCode.INVALID_FIELD,
    );
    expect(e2.context).toEqual({ field: "transaction", reason: "not a Solana transaction" });
    await expectCodeAsync(
      () => verifyTx(base64.encode(new Uint8Array(1300))),
      ErrorCode.FIELD_TOO_LARGE,
    );
  });

  it("checks the grant's binding before the transaction", async () => {
    await expectCodeAsync(
      () => verifyTx(tx(), { ...TEST_CONTEXT, chain: "solana:devnet" }),
      ErrorCode.GRANT_CHAIN_MISMATCH,
    );
  });
});

describe("verifyAction", () => {
  const post = (g: VerifiedGrant, over: Partial<ActionPayload> = {}) =>
    payloadOf({ ts: T0 + 1000, ...over } as never, g.id);

  it("accepts an action signed by the session key and returns a frozen verified action", async () => {
    const s = await verifiedGrant();
    const p = post(s.verified);
    const signed = signAction(s.session, p);
    const v = await verifyAction(JSON.parse(JSON.stringify(signed)), s.verified, backend);
    expect(v.id).toBe(actionIdOf(p));
    expect(v.payload).toEqual(p);
    expect(v.signature).toBe(signed.signature);
    expect(v.bytes).toEqual(actionSigningBytes(p));
    expect(Object.isFrozen(v)).toBe(true);
  });

  it("refuses an action naming another grant with 4009", async () => {
    const s = await verifiedGrant();
    const other = await verifiedGrant("alice", "alice-session-2");
    const signed = signAction(s.session, post(other.verified));
    const e = await expectCodeAsync(
      () => verifyAction(signed, s.verified, backend),
      ErrorCode.WRONG_GRANT,
    );
    expect(e.context).toEqual({ expected: s.verified.id, actual: other.verified.id });
  });

  it("refuses an action signed by another key with 2001 naming the session key", async () => {
    const s = await verifiedGrant();
    const signed = signAction(testKey("alice-session-2"), post(s.verified));
    const e = await expectCodeAsync(
      () => verifyAction(signed, s.verified, backend),
      ErrorCode.BAD_SIGNATURE,
    );
    expect(e.context).toEqual({ signer: s.grant.sessionKey });
    // The wallet's own key is not the session key either.
    await expectCodeAsync(
      () => verifyAction(signAction(s.wallet, post(s.verified)), s.verified, backend),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it("refuses a payload changed after signing with 2001", async () => {
    const s = await verifiedGrant();
    const signed = signAction(s.session, post(s.verified));
    const tampered = { ...signed, payload: { ...signed.payload, ord: 2 } };
    await expectCodeAsync(
      () => verifyAction(tampered, s.verified, backend),
      ErrorCode.BAD_SIGNATURE,
    );
    const kindSwap = signAction(
      s.session,
      post(s.verified, {
        kind: "react",
        body: { target: actionIdOf(signed.payload), reaction: "+1" },
      } as never),
    );
    const asUnreact = { ...kindSwap, payload: { ...kindSwap.payload, kind: "unreact" } };
    await expectCodeAsync(
      () => verifyAction(asUnreact, s.verified, backend),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it("refuses an oversized field before checking the signature, with 1003", async () => {
    const s = await verifiedGrant();
    const signed = signAction(
      s.session,
      post(s.verified, { body: { text: "a".repeat(1025), links: [], mentions: [] } } as never),
    );
    await expectCodeAsync(
      () => verifyAction(signed, s.verified, backend),
      ErrorCode.FIELD_TOO_LARGE,
    );
  });

  it("refuses a malformed wire action with its shape code", async () => {
    const s = await verifiedGrant();
    const signed = signAction(s.session, post(s.verified));
    await expectCodeAsync(
      () => verifyAction({ ...signed, extra: true }, s.verified, backend),
      ErrorCode.UNKNOWN_FIELD,
    );
    await expectCodeAsync(
      () => verifyAction({ ...signed, signature: "x" }, s.verified, backend),
      ErrorCode.INVALID_LENGTH,
    );
  });

  it("accepts the largest valid DM (16 copies of 4096 characters) within the signed-bytes limit", async () => {
    const s = await verifiedGrant();
    const copies = Array.from({ length: 16 }, (_, i) => ({
      key: toBase58(new Uint8Array(32).fill(i + 1)),
      ephemeral: toBase58(new Uint8Array(32).fill(i + 100)),
      ciphertext: "A".repeat(4096),
    }));
    const p = post(s.verified, {
      kind: "dm",
      body: { to: testKey("bob").address, messageId: testNonce("m"), copies },
    } as never);
    const v = await verifyAction(signAction(s.session, p), s.verified, backend);
    expect(v.bytes.length).toBeLessThan(96 * 1024);
    expect(v.bytes.length).toBeGreaterThan(16 * 4096);
  });

  it("names the scope an action counts against", () => {
    expect(scopeOf(payloadOf({ kind: "unreact" }))).toBe("react");
    expect(scopeOf(payloadOf({ kind: "unfollow" }))).toBe("follow");
    expect(scopeOf(payloadOf({ kind: "tip" }))).toBe("tip");
  });
});

describe("verifyRevocation", () => {
  const revocation = (over: Partial<Revocation> = {}): Revocation => ({
    version: 1,
    wallet: f.wallet.address as WalletAddress,
    network: TEST_CONTEXT.network,
    target: { kind: "grant", grant: id },
    compromisedSince: null,
    issuedAt: T0 + DAY,
    nonce: testNonce("revocation"),
    ...over,
  });

  it("accepts the wallet's signature and returns a frozen verified revocation", async () => {
    const signed = signRevocation(f.wallet, revocation());
    const v = await verifyRevocation(signed, TEST_CONTEXT, backend);
    expect(v.id).toBe(revocationIdOfText(signed.text));
    expect(v.revocation).toEqual(revocation());
    expect(v.text).toBe(signed.text);
    expect(v.signature).toBe(signed.signature);
    expect(Object.isFrozen(v)).toBe(true);
  });

  it("refuses a revocation for another node network with 3004", async () => {
    const signed = signRevocation(f.wallet, revocation({ network: "sesame-other" }));
    const e = await expectCodeAsync(
      () => verifyRevocation(signed, TEST_CONTEXT, backend),
      ErrorCode.GRANT_NETWORK_MISMATCH,
    );
    expect(e.context).toEqual({ expected: "sesame-test", actual: "sesame-other" });
  });

  it("refuses a revocation signed by anyone but its wallet with 2001", async () => {
    const { text } = signRevocation(f.wallet, revocation());
    const forged = toBase58(mallory.sign(utf8(text))) as Signature;
    const e = await expectCodeAsync(
      () => verifyRevocation({ text, signature: forged }, TEST_CONTEXT, backend),
      ErrorCode.BAD_SIGNATURE,
    );
    expect(e.context).toEqual({ signer: f.wallet.address });
    // The session key cannot revoke either: only the wallet can.
    const bySession = toBase58(f.session.sign(utf8(text))) as Signature;
    await expectCodeAsync(
      () => verifyRevocation({ text, signature: bySession }, TEST_CONTEXT, backend),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it("refuses a non-object with 5001, malformed text with 5001 and a bad signature string with 1004", async () => {
    await expectCodeAsync(
      () => verifyRevocation(undefined as never, TEST_CONTEXT, backend),
      ErrorCode.REVOCATION_MALFORMED,
    );
    const signed = signRevocation(f.wallet, revocation());
    await expectCodeAsync(
      () => verifyRevocation({ ...signed, text: `${signed.text}\n` }, TEST_CONTEXT, backend),
      ErrorCode.REVOCATION_MALFORMED,
    );
    await expectCodeAsync(
      () => verifyRevocation({ ...signed, signature: "O0" as Signature }, TEST_CONTEXT, backend),
      ErrorCode.INVALID_BASE58,
    );
  });
});

describe("verifyEquivocation", () => {
  async function setup() {
    const s = await verifiedGrant();
    const sign = (over: Partial<ActionPayload>): SignedAction =>
      signAction(s.session, payloadOf({ ts: T0 + 1000, ...over } as never, s.verified.id));
    return { s, sign };
  }

  it("proves equivocation by sequence: two different actions with one seq", async () => {
    const { s, sign } = await setup();
    const a = sign({ seq: 7, ord: 1 });
    const b = sign({ seq: 7, ord: 2 });
    const v = await verifyEquivocation({ a, b }, s.verified, backend);
    expect(v.by).toBe("sequence");
    expect(v.grant).toBe(s.verified.id);
    expect(v.a.id).toBe(actionIdOf(a.payload));
    expect(v.b.id).toBe(actionIdOf(b.payload));
    expect(Object.isFrozen(v)).toBe(true);
  });

  it("proves equivocation by ordinal: two actions of one scope with one ordinal", async () => {
    const { s, sign } = await setup();
    const a = sign({ seq: 1, ord: 3 });
    const b = sign({ seq: 2, ord: 3, body: { text: "other", links: [], mentions: [] } } as never);
    expect((await verifyEquivocation({ a, b }, s.verified, backend)).by).toBe("ordinal");
    // react and unreact share the react scope, so their ordinals collide too.
    const target = actionIdOf(a.payload);
    const r = sign({ kind: "react", seq: 3, ord: 1, body: { target, reaction: "+1" } } as never);
    const u = sign({ kind: "unreact", seq: 4, ord: 1, body: { target, reaction: "+1" } } as never);
    expect((await verifyEquivocation({ a: r, b: u }, s.verified, backend)).by).toBe("ordinal");
  });

  it("refuses actions that share neither seq nor a scope ordinal with 5003", async () => {
    const { s, sign } = await setup();
    const a = sign({ seq: 1, ord: 1 });
    const b = sign({ seq: 2, ord: 2 });
    const e = await expectCodeAsync(
      () => verifyEquivocation({ a, b }, s.verified, backend),
      ErrorCode.EQUIVOCATION_PROOF_INVALID,
    );
    expect(e.context).toEqual({
      reason: "the actions share neither a sequence number nor a scope ordinal",
    });
    // The same ordinal in two different scopes is not a collision.
    const follow = sign({ kind: "follow", seq: 3, ord: 1 });
    await expectCodeAsync(
      () => verifyEquivocation({ a, b: follow }, s.verified, backend),
      ErrorCode.EQUIVOCATION_PROOF_INVALID,
    );
  });

  it("refuses the same action twice with 5003", async () => {
    const { s, sign } = await setup();
    const a = sign({ seq: 1, ord: 1 });
    const e = await expectCodeAsync(
      () => verifyEquivocation({ a, b: { ...a } }, s.verified, backend),
      ErrorCode.EQUIVOCATION_PROOF_INVALID,
    );
    expect(e.context).toEqual({ reason: "the two actions are the same" });
  });

  it("refuses a proof where one action does not verify with 5003", async () => {
    const { s, sign } = await setup();
    const a = sign({ seq: 1, ord: 1 });
    const b = sign({ seq: 1, ord: 2 });
    const forged = { ...b, signature: a.signature };
    const e = await expectCodeAsync(
      () => verifyEquivocation({ a, b: forged }, s.verified, backend),
      ErrorCode.EQUIVOCATION_PROOF_INVALID,
    );
    expect((e.context as { reason: string }).reason).toMatch(/^an action does not verify: /);
    const other = await verifiedGrant("alice", "alice-session-2");
    const foreign = signAction(other.session, payloadOf({ seq: 1, ord: 2 }, other.verified.id));
    await expectCodeAsync(
      () => verifyEquivocation({ a, b: foreign }, s.verified, backend),
      ErrorCode.EQUIVOCATION_PROOF_INVALID,
    );
  });

  it("refuses a proof that is not an object with 5003", async () => {
    const { s } = await setup();
    await expectCodeAsync(
      () => verifyEquivocation(null as never, s.verified, backend),
      ErrorCode.EQUIVOCATION_PROOF_INVALID,
    );
  });
});
