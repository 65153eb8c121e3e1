/**
 * The attack table of docs/SECURITY.md, run through the real HTTP API of a real listening
 * node (PGlite and PostgreSQL, with the embedded LiteSVM chain for tips). Every row sends
 * one hostile request and asserts two things: the exact answer (status and numeric code),
 * and that the stored state did not change — every row of every table is compared before
 * and after. Equivocation is the one designed exception: the proof and the revocation are
 * stored, and the row asserts exactly that change and nothing else.
 */
import { readFile } from "node:fs/promises";
import {
  type ActionPayload,
  ErrorCode,
  errorName,
  fromBase58,
  httpStatus,
  type SignedAction,
  toBase58,
  utf8,
  type WalletAddress,
  X25519_SMALL_ORDER_ENCODINGS,
} from "@sesame/protocol";
import { type EmbeddedChain, sendTip, startSession } from "@sesame/solana";
import { type Address, createKeyPairSignerFromPrivateKeyBytes } from "@solana/kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DAY,
  type GrantFixture,
  HOUR,
  makeGrant,
  signAction,
  T0,
  TEST_CONTEXT,
  type TestKey,
  testKey,
} from "../../protocol/scripts/fixtures.js";
import { createNode, type SesameNode } from "../src/index.js";
import { type Digest, diff, digest } from "./digest.js";
import {
  type AcceptedItem,
  accept,
  dmBody,
  ENGINES,
  type HttpReply,
  NOW,
  post,
  postBody,
  reactBody,
  registerSession,
  request,
  revocation,
  type TestDatabase,
  type TestSession,
  testDatabase,
} from "./helpers.js";

const APP_DOMAIN = "app.sesame.test";
const DEVICE = "Test device";
const TOKEN = 1_000_000n;
/** Ed25519's group order L. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

interface Running {
  readonly node: SesameNode;
  readonly url: string;
  readonly database: TestDatabase;
}

interface World {
  readonly url: string;
  /** A second node of another network (`sesame-other`), for cross-node replays. */
  readonly otherUrl: string;
  setClock(ms: number): void;
  readonly chain: EmbeddedChain;
  readonly alice: TestSession;
  readonly bob: TestSession;
  readonly alicePost: AcceptedItem;
  readonly alicePostAction: SignedAction;
  readonly bobPost: AcceptedItem;
  /** Only the post scope. */
  readonly postOnly: TestSession;
  /** post: at most 2 in total. */
  readonly capped: TestSession;
  /** post: at most 1 per hour. */
  readonly rated: TestSession;
  /** Valid from NOW + 1 day. */
  readonly pending: TestSession;
  /** Expires NOW + 1 hour. */
  readonly shortLived: TestSession;
  /** Revoked by its wallet. */
  readonly revoked: TestSession;
  /** Both of dave's sessions, ended by one revoke-all. */
  readonly revokedAll: readonly [TestSession, TestSession];
  /** The revocation that ended `revoked`, as posted. */
  readonly revokedBy: { text: string; signature: string };
  /** No dm scope. */
  readonly noDm: TestSession;
  /** A funded session: tip budget 2 tokens on the embedded chain. */
  readonly tipper: TestSession;
  /** A real on-chain tip of 1 token from `tipper` to bob's post. */
  readonly tipTransaction: string;
  /** Sessions made fresh for attacks that change them. */
  fresh(label: string, overrides?: Record<string, unknown>): Promise<TestSession>;
}

interface Expected {
  readonly status: number;
  readonly code?: ErrorCode;
  /** For an idempotent replay: 200 with `duplicate: true`. */
  readonly duplicate?: true;
}

interface Attack {
  /** The row's name in docs/SECURITY.md. */
  readonly name: string;
  /** Puts the world in the state the attack needs; not part of the compared change. */
  readonly prepare?: (w: World) => Promise<unknown>;
  readonly send: (w: World, prepared: unknown) => Promise<HttpReply<unknown>>;
  readonly expect: Expected;
  /** The stored change this attack is designed to cause (default: none). */
  readonly change?: (before: Digest, after: Digest, prepared: unknown) => void;
}

const refused = (code: ErrorCode): Expected => ({ status: httpStatus(code), code });

/** The same signature with S replaced by S + L: the same group element, not canonical. */
function nonCanonical(signature: string): string {
  const bytes = fromBase58(signature, "signature");
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(bytes[i] as number);
  s += L;
  const out = Uint8Array.from(bytes);
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return toBase58(out);
}

/** The identity point: a small-order public key that "verifies" many signatures on lax verifiers. */
const SMALL_ORDER_KEY = toBase58(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)));

/** An X25519 point of order 8: a DM encrypted to it has a shared secret anyone can guess. */
const SMALL_ORDER_X25519_KEY = toBase58(X25519_SMALL_ORDER_ENCODINGS[3] as Uint8Array);

/** A key that signs with `signer`'s secret but claims `address`. */
function impostor(signer: TestKey, address: string): TestKey {
  return { ...signer, address };
}

const grantBody = (f: GrantFixture) => ({ text: f.text, signature: f.signature });

function resign(s: TestSession, payload: ActionPayload): SignedAction {
  return signAction(s.fixture.session, payload);
}

const inboxPath = (w: WalletAddress) => `/v1/wallets/${w}/inbox`;

const ATTACKS: readonly Attack[] = [
  // --- grants: the wallet tier --------------------------------------------------------
  {
    name: "grant signed by another wallet key (forged grant)",
    send: (w) =>
      post(w.url, "/v1/grants", {
        text: makeGrant("mallory", "m-1").text,
        signature: makeGrant("mallory", "m-2", { wallet: testKey("eve").address }).signature,
      }),
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "tampered grant text (cap raised after signing)",
    send: (w) => {
      const f = makeGrant("mallory", "m-tamper");
      const text = f.text.replace("at most 50 in total", "at most 5000 in total");
      expect(text).not.toBe(f.text);
      return post(w.url, "/v1/grants", { text, signature: f.signature });
    },
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "grant signed by its session key instead of the wallet",
    send: (w) => {
      const f = makeGrant("mallory", "m-self");
      return post(w.url, "/v1/grants", {
        text: f.text,
        signature: toBase58(f.session.sign(utf8(f.text))),
      });
    },
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "grant with a non-canonical signature (S + L)",
    send: (w) => {
      const f = makeGrant("mallory", "m-noncanon");
      return post(w.url, "/v1/grants", { text: f.text, signature: nonCanonical(f.signature) });
    },
    expect: refused(ErrorCode.NON_CANONICAL_SIGNATURE),
  },
  {
    name: "grant from a small-order wallet key",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(makeGrant("mallory", "m-so", { wallet: SMALL_ORDER_KEY })),
      ),
    expect: refused(ErrorCode.SMALL_ORDER_PUBLIC_KEY),
  },
  {
    name: "grant naming a small-order session key",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(makeGrant("mallory", "m-sok", { sessionKey: SMALL_ORDER_KEY })),
      ),
    expect: refused(ErrorCode.SMALL_ORDER_PUBLIC_KEY),
  },
  {
    name: "grant naming a small-order X25519 encryption key",
    send: (w) => {
      const f = makeGrant("mallory", "m-soenc");
      const line = `Encryption Key: ${f.grant.encryptionKey}`;
      const text = f.text.replace(line, `Encryption Key: ${SMALL_ORDER_X25519_KEY}`);
      expect(text).not.toBe(f.text);
      // Signed by the wallet it names: only the key is wrong.
      return post(w.url, "/v1/grants", { text, signature: toBase58(f.wallet.sign(utf8(text))) });
    },
    expect: refused(ErrorCode.SMALL_ORDER_PUBLIC_KEY),
  },
  {
    name: "grant for another app domain (cross-app)",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(
          makeGrant("mallory", "m-dom", { domain: "evil.example", uri: "https://evil.example/" }),
        ),
      ),
    expect: refused(ErrorCode.GRANT_DOMAIN_MISMATCH),
  },
  {
    name: "grant for another chain",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(makeGrant("mallory", "m-chain", { chain: "solana:mainnet" })),
      ),
    expect: refused(ErrorCode.GRANT_CHAIN_MISMATCH),
  },
  {
    name: "grant for another node network",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(makeGrant("mallory", "m-net", { network: "sesame-other" })),
      ),
    expect: refused(ErrorCode.GRANT_NETWORK_MISMATCH),
  },
  {
    name: "cross-node replay of a grant registered on this network",
    send: (w) => post(w.otherUrl, "/v1/grants", grantBody(w.alice.fixture)),
    expect: refused(ErrorCode.GRANT_NETWORK_MISMATCH),
  },
  {
    name: "expired grant",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(makeGrant("mallory", "m-exp", { expirationTime: NOW - 1 })),
      ),
    expect: refused(ErrorCode.GRANT_EXPIRED),
  },
  {
    name: "grant issued in the future (back-dating the clock)",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(
          makeGrant("mallory", "m-fut", {
            issuedAt: NOW + HOUR,
            notBefore: NOW + HOUR,
            expirationTime: NOW + DAY,
          }),
        ),
      ),
    expect: refused(ErrorCode.GRANT_ISSUED_IN_FUTURE),
  },
  {
    name: "grant longer than the node's maximum lifetime",
    send: (w) =>
      post(
        w.url,
        "/v1/grants",
        grantBody(makeGrant("mallory", "m-long", { expirationTime: T0 + 365 * DAY })),
      ),
    expect: refused(ErrorCode.GRANT_LIFETIME_TOO_LONG),
  },
  {
    name: "second grant hijacking a session key another grant holds",
    send: (w) => post(w.url, "/v1/grants", grantBody(makeGrant("mallory", "alice-session"))),
    expect: refused(ErrorCode.INVALID_FIELD),
  },
  {
    name: "grant issued before a stored revoke-all of its wallet",
    send: (w) => post(w.url, "/v1/grants", grantBody(makeGrant("dave", "dave-late"))),
    expect: refused(ErrorCode.GRANT_REVOKED),
  },
  {
    name: "malformed grant text",
    send: (w) =>
      post(w.url, "/v1/grants", {
        text: "gm, please let me post forever",
        signature: w.alice.fixture.signature,
      }),
    expect: refused(ErrorCode.GRANT_TEXT_MALFORMED),
  },

  // --- actions: the session tier ------------------------------------------------------
  {
    name: "action naming a grant this node never saw",
    send: (w) => {
      const f = makeGrant("mallory", "m-unknown");
      return post(
        w.url,
        "/v1/actions",
        signAction(f.session, {
          v: 1,
          kind: "post",
          grant: toBase58(new Uint8Array(32).fill(7)),
          seq: 1,
          ord: 1,
          ts: NOW,
          body: postBody("who am I"),
        } as ActionPayload),
      );
    },
    expect: refused(ErrorCode.GRANT_UNKNOWN),
  },
  {
    name: "forged action signature (another payload's signature)",
    send: (w) =>
      post(w.url, "/v1/actions", {
        ...w.alice.sign("post", postBody("forged"), { seq: 900, ord: 900 }),
        signature: w.alicePostAction.signature,
      }),
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "action with a non-canonical signature (S + L)",
    send: (w) => {
      const a = w.alice.sign("post", postBody("malleated"), { seq: 901, ord: 901 });
      return post(w.url, "/v1/actions", { ...a, signature: nonCanonical(a.signature) });
    },
    expect: refused(ErrorCode.NON_CANONICAL_SIGNATURE),
  },
  {
    name: "action signed by the wallet key instead of the session key",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        signAction(w.alice.walletKey, {
          ...w.alice.sign("post", postBody("wallet-signed"), { seq: 902, ord: 902 }).payload,
        }),
      ),
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "action re-pointed at another session's grant",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        resign(w.alice, {
          ...w.alice.sign("post", postBody("borrowed grant"), { seq: 903, ord: 903 }).payload,
          grant: w.bob.grantId,
        }),
      ),
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "action outside the granted scopes",
    send: (w) => post(w.url, "/v1/actions", w.postOnly.sign("react", reactBody(w.bobPost.id))),
    expect: refused(ErrorCode.SCOPE_NOT_GRANTED),
  },
  {
    name: "action before the grant's not-before (not yet valid)",
    send: (w) => post(w.url, "/v1/actions", w.pending.sign("post", postBody("too early"))),
    expect: refused(ErrorCode.OUTSIDE_WINDOW),
  },
  {
    name: "action after the session expired",
    prepare: async (w) => w.setClock(NOW + HOUR + 11 * 60_000),
    send: (w) =>
      post(w.url, "/v1/actions", w.shortLived.sign("post", postBody("late"), { ts: NOW })),
    expect: refused(ErrorCode.SESSION_EXPIRED),
  },
  {
    name: "action stamped after the grant's expiration (sent inside the grace period)",
    prepare: async (w) => w.setClock(NOW + HOUR + 60_000),
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.shortLived.sign("post", postBody("stamped too late"), { ts: NOW + HOUR + 30_000 }),
      ),
    expect: refused(ErrorCode.OUTSIDE_WINDOW),
  },
  {
    name: "back-dated action (stamped before the grant's not-before)",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.alice.sign("post", postBody("from the past"), { seq: 914, ord: 914, ts: T0 - 1 }),
      ),
    expect: refused(ErrorCode.OUTSIDE_WINDOW),
  },
  {
    name: "action stamped in the future",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.alice.sign("post", postBody("from tomorrow"), { seq: 904, ord: 904, ts: NOW + HOUR }),
      ),
    expect: refused(ErrorCode.TIMESTAMP_IN_FUTURE),
  },
  {
    name: "over the total cap (ordinal above the cap)",
    prepare: async (w) => {
      await accept(w.url, w.capped.sign("post", postBody("one")));
      await accept(w.url, w.capped.sign("post", postBody("two")));
    },
    send: (w) => post(w.url, "/v1/actions", w.capped.sign("post", postBody("three"))),
    expect: refused(ErrorCode.OVER_CAP),
  },
  {
    name: "over the total cap by skipping ordinals",
    send: (w) =>
      post(w.url, "/v1/actions", w.capped.sign("post", postBody("skip"), { seq: 50, ord: 1000 })),
    expect: refused(ErrorCode.OVER_CAP),
  },
  {
    name: "over the hourly rate",
    prepare: (w) => accept(w.url, w.rated.sign("post", postBody("first this hour"))),
    send: (w) => post(w.url, "/v1/actions", w.rated.sign("post", postBody("second this hour"))),
    expect: refused(ErrorCode.OVER_RATE),
  },
  {
    name: "replay of a stored action (idempotent: stored once)",
    send: (w) => post(w.url, "/v1/actions", w.alicePostAction),
    expect: { status: 200, duplicate: true },
  },
  {
    name: "cross-node replay of a stored action",
    send: (w) => post(w.otherUrl, "/v1/actions", w.alicePostAction),
    expect: refused(ErrorCode.GRANT_UNKNOWN),
  },
  {
    name: "equivocation on the sequence number",
    prepare: async (w) => {
      const s = await w.fresh("eq-seq");
      await accept(w.url, s.sign("post", postBody("original"), { seq: 1, ord: 1 }));
      return s;
    },
    send: (w, s) =>
      post(
        w.url,
        "/v1/actions",
        (s as TestSession).sign("post", postBody("rewritten"), { seq: 1, ord: 2 }),
      ),
    expect: refused(ErrorCode.EQUIVOCATION),
    change: (before, after, s) =>
      expectEquivocationChange(before, after, s as TestSession, "sequence"),
  },
  {
    name: "equivocation on the scope ordinal",
    prepare: async (w) => {
      const s = await w.fresh("eq-ord");
      await accept(w.url, s.sign("post", postBody("post #1"), { seq: 1, ord: 1 }));
      return s;
    },
    send: (w, s) =>
      post(
        w.url,
        "/v1/actions",
        (s as TestSession).sign("post", postBody("another post #1"), { seq: 2, ord: 1 }),
      ),
    expect: refused(ErrorCode.EQUIVOCATION),
    change: (before, after, s) =>
      expectEquivocationChange(before, after, s as TestSession, "ordinal"),
  },
  {
    name: "equivocation proof that proves nothing (two unrelated actions)",
    send: (w) =>
      post(w.url, "/v1/equivocations", {
        a: w.alicePostAction,
        b: w.alice.sign("post", postBody("unrelated"), { seq: 905, ord: 905 }),
      }),
    expect: refused(ErrorCode.EQUIVOCATION_PROOF_INVALID),
  },
  {
    name: "equivocation proof with a forged second action",
    send: (w) =>
      post(w.url, "/v1/equivocations", {
        a: w.alicePostAction,
        b: {
          ...w.alice.sign("post", postBody("frame"), {
            seq: w.alicePostAction.payload.seq,
            ord: 906,
          }),
          signature: w.alicePostAction.signature,
        },
      }),
    expect: refused(ErrorCode.EQUIVOCATION_PROOF_INVALID),
  },
  {
    name: "action of a revoked session",
    send: (w) => post(w.url, "/v1/actions", w.revoked.sign("post", postBody("still here?"))),
    expect: refused(ErrorCode.SESSION_REVOKED),
  },
  {
    name: "action of a session ended by revoke-all",
    send: (w) =>
      post(w.url, "/v1/actions", w.revokedAll[1].sign("post", postBody("still here too?"))),
    expect: refused(ErrorCode.SESSION_REVOKED),
  },

  // --- revocations: the wallet tier ---------------------------------------------------
  {
    name: "revocation signed by the session key",
    send: (w) =>
      post(
        w.url,
        "/v1/revocations",
        revocation(impostor(w.alice.fixture.session, w.alice.wallet), {
          kind: "grant",
          grant: w.alice.grantId,
        }),
      ),
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "revoke-all signed by the session key",
    send: (w) =>
      post(
        w.url,
        "/v1/revocations",
        revocation(impostor(w.alice.fixture.session, w.alice.wallet), {
          kind: "all",
          issuedBefore: NOW,
        }),
      ),
    expect: refused(ErrorCode.BAD_SIGNATURE),
  },
  {
    name: "revocation of another wallet's session",
    send: (w) =>
      post(
        w.url,
        "/v1/revocations",
        revocation(w.bob.walletKey, { kind: "grant", grant: w.alice.grantId }),
      ),
    expect: refused(ErrorCode.REVOCATION_WALLET_MISMATCH),
  },
  {
    name: "revocation for another node network",
    send: (w) => {
      const r = revocation(w.alice.walletKey, { kind: "grant", grant: w.alice.grantId });
      return post(w.otherUrl, "/v1/revocations", r);
    },
    expect: refused(ErrorCode.GRANT_NETWORK_MISMATCH),
  },
  {
    name: "replay of a stored revocation (idempotent)",
    send: (w) => post(w.url, "/v1/revocations", w.revokedBy),
    expect: { status: 200, duplicate: true },
  },

  // --- bad input ------------------------------------------------------------------------
  {
    name: "oversized body (over the 1 MiB limit)",
    send: (w) =>
      request(w.url, "POST", "/v1/actions", {
        raw: JSON.stringify({ pad: "x".repeat(1024 * 1024 + 10) }),
      }),
    expect: refused(ErrorCode.PAYLOAD_TOO_LARGE),
  },
  {
    name: "oversized request headers (over Node's 16 KiB)",
    send: (w) =>
      request(w.url, "GET", inboxPath(w.alice.wallet), {
        headers: { "sesame-request": "A".repeat(20_000) },
      }),
    expect: { status: 431, code: ErrorCode.PAYLOAD_TOO_LARGE },
  },
  {
    name: "oversized field (post text over 1024 bytes)",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.alice.sign("post", postBody("é".repeat(513)), { seq: 907, ord: 907 }),
      ),
    expect: refused(ErrorCode.FIELD_TOO_LARGE),
  },
  {
    name: "oversized grant statement",
    send: (w) => {
      const f = makeGrant("mallory", "m-big");
      const text = f.text.replace(
        "Let this app post,",
        `Let this app ${"really ".repeat(60)}post,`,
      );
      return post(w.url, "/v1/grants", { text, signature: f.signature });
    },
    expect: refused(ErrorCode.FIELD_TOO_LARGE),
  },
  {
    name: "batch over 100 actions",
    send: (w) =>
      post(w.url, "/v1/actions", {
        actions: Array.from({ length: 101 }, () => w.alicePostAction),
      }),
    expect: refused(ErrorCode.BATCH_TOO_LARGE),
  },
  {
    name: "sequence number beyond 2^53",
    send: (w) =>
      request(w.url, "POST", "/v1/actions", {
        raw: JSON.stringify(w.alicePostAction).replace(/"seq":\d+/, '"seq":9007199254740993'),
      }),
    expect: refused(ErrorCode.INVALID_FIELD),
  },
  {
    name: "malformed JSON",
    send: (w) => request(w.url, "POST", "/v1/actions", { raw: '{"payload": {"v": 1,' }),
    expect: refused(ErrorCode.MALFORMED_JSON),
  },
  {
    name: "malformed UTF-8 in the body",
    send: async (w) => {
      const json = Buffer.from(
        JSON.stringify(w.alice.sign("post", postBody("XX"), { seq: 908, ord: 908 })),
      );
      const at = json.indexOf("XX");
      json[at] = 0xc3; // a lead byte
      json[at + 1] = 0x28; // not a continuation byte
      const res = await fetch(`${w.url}/v1/actions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: json,
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
    },
    expect: refused(ErrorCode.MALFORMED_JSON),
  },
  {
    name: "lone UTF-16 surrogate in a signed field",
    send: (w) => {
      const a = w.alice.sign("post", postBody("ok"), { seq: 909, ord: 909 });
      return request(w.url, "POST", "/v1/actions", {
        raw: JSON.stringify(a).replace('"text":"ok"', '"text":"\\ud800"'),
      });
    },
    expect: refused(ErrorCode.INVALID_FIELD),
  },
  {
    name: "malformed base58 signature",
    send: (w) => post(w.url, "/v1/actions", { ...w.alicePostAction, signature: "0OIl".repeat(22) }),
    expect: refused(ErrorCode.INVALID_BASE58),
  },
  {
    name: "malformed base64url DM ciphertext",
    send: (w) => {
      const body = dmBody(w.bob, "bad base64");
      const copy = body.copies[0];
      if (copy === undefined) throw new Error("no copy");
      return post(
        w.url,
        "/v1/actions",
        w.alice.sign(
          "dm",
          { ...body, copies: [{ ...copy, ciphertext: "not*base64url!" }] },
          { seq: 910, ord: 910 },
        ),
      );
    },
    expect: refused(ErrorCode.INVALID_BASE64URL),
  },
  {
    name: "unknown action kind",
    send: (w) =>
      post(w.url, "/v1/actions", {
        payload: { ...w.alicePostAction.payload, kind: "delete_everything", seq: 911 },
        signature: w.alicePostAction.signature,
      }),
    expect: refused(ErrorCode.UNKNOWN_KIND),
  },
  {
    name: "unsupported message version",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        resign(w.alice, {
          ...w.alicePostAction.payload,
          v: 2,
          seq: 912,
        } as unknown as ActionPayload),
      ),
    expect: refused(ErrorCode.UNSUPPORTED_VERSION),
  },
  {
    name: 'hostile JSON object where a string is expected (kind `{"toString":1}`)',
    send: (w) =>
      post(w.url, "/v1/actions", {
        payload: { ...w.alicePostAction.payload, kind: { toString: 1, valueOf: 1 }, seq: 914 },
        signature: w.alicePostAction.signature,
      }),
    expect: refused(ErrorCode.UNKNOWN_KIND),
  },
  {
    name: 'hostile JSON object as the message version (`{"toString":1}`)',
    send: (w) =>
      post(w.url, "/v1/actions", {
        payload: { ...w.alicePostAction.payload, v: { toString: 1 }, seq: 915 },
        signature: w.alicePostAction.signature,
      }),
    expect: refused(ErrorCode.UNSUPPORTED_VERSION),
  },
  {
    name: "unknown field smuggled into a signed payload",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        resign(w.alice, {
          ...w.alicePostAction.payload,
          seq: 913,
          admin: true,
        } as unknown as ActionPayload),
      ),
    expect: refused(ErrorCode.UNKNOWN_FIELD),
  },

  {
    name: "unknown field beside a signed grant",
    send: (w) => {
      const f = makeGrant("mallory", "m-extra");
      return post(w.url, "/v1/grants", { text: f.text, signature: f.signature, admin: true });
    },
    expect: refused(ErrorCode.UNKNOWN_FIELD),
  },
  {
    name: "unknown field beside a signed revocation",
    send: (w) =>
      post(w.url, "/v1/revocations", {
        ...revocation(w.alice.walletKey, { kind: "grant", grant: w.alice.grantId }),
        compromisedSince: 0,
      }),
    expect: refused(ErrorCode.UNKNOWN_FIELD),
  },

  // --- reads that need a session signature ------------------------------------------------
  {
    name: "DM inbox read without a Sesame-Request header",
    send: (w) => request(w.url, "GET", inboxPath(w.alice.wallet)),
    expect: refused(ErrorCode.UNAUTHORIZED_REQUEST),
  },
  {
    name: "DM inbox read with a forged request signature",
    send: (w) => {
      const path = inboxPath(w.alice.wallet);
      const header = JSON.parse(
        Buffer.from(w.alice.requestHeader(path, NOW), "base64url").toString(),
      ) as { payload: unknown; signature: string };
      const bobs = JSON.parse(
        Buffer.from(w.bob.requestHeader(path, NOW), "base64url").toString(),
      ) as { signature: string };
      const forged = { ...header, signature: bobs.signature };
      return request(w.url, "GET", path, {
        headers: { "sesame-request": Buffer.from(JSON.stringify(forged)).toString("base64url") },
      });
    },
    expect: refused(ErrorCode.UNAUTHORIZED_REQUEST),
  },
  {
    name: "DM inbox read with another wallet's session",
    send: (w) => {
      const path = inboxPath(w.alice.wallet);
      return request(w.url, "GET", path, {
        headers: { "sesame-request": w.bob.requestHeader(path, NOW) },
      });
    },
    expect: refused(ErrorCode.UNAUTHORIZED_REQUEST),
  },
  {
    name: "DM inbox read replaying a request signed for another path",
    send: (w) => {
      const path = inboxPath(w.alice.wallet);
      return request(w.url, "GET", path, {
        headers: { "sesame-request": w.alice.requestHeader(`${path}?limit=1`, NOW) },
      });
    },
    expect: refused(ErrorCode.UNAUTHORIZED_REQUEST),
  },
  {
    name: "DM inbox read replaying a stale request",
    send: (w) => {
      const path = inboxPath(w.alice.wallet);
      return request(w.url, "GET", path, {
        headers: { "sesame-request": w.alice.requestHeader(path, NOW - 10 * 60_000) },
      });
    },
    expect: refused(ErrorCode.UNAUTHORIZED_REQUEST),
  },
  {
    name: "DM inbox read by a session without the dm scope",
    send: (w) => {
      const path = inboxPath(w.noDm.wallet);
      return request(w.url, "GET", path, {
        headers: { "sesame-request": w.noDm.requestHeader(path, NOW) },
      });
    },
    expect: refused(ErrorCode.UNAUTHORIZED_REQUEST),
  },
  {
    name: "DM inbox read by a revoked session",
    send: (w) => {
      const path = inboxPath(w.revoked.wallet);
      return request(w.url, "GET", path, {
        headers: { "sesame-request": w.revoked.requestHeader(path, NOW) },
      });
    },
    expect: refused(ErrorCode.UNAUTHORIZED_REQUEST),
  },

  // --- funds: tips against the embedded chain ------------------------------------------
  {
    name: "tip over the on-chain allowance (the token program refused it; no transaction)",
    prepare: async (w) => {
      const signer = await createKeyPairSignerFromPrivateKeyBytes(w.tipper.fixture.session.seed);
      // The chain itself refuses a transfer beyond the delegated amount.
      await expect(
        sendTip(w.chain, {
          grant: w.tipper.fixture.grant,
          deviceId: DEVICE,
          sessionSigner: signer,
          author: w.bob.wallet,
          amount: 3n * TOKEN,
          post: w.bobPost.id as never,
        }),
      ).rejects.toThrow(/insufficient funds/i);
    },
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.tipper.sign("tip", {
          post: w.bobPost.id,
          to: w.bob.wallet,
          mint: w.chain.demoMint.address,
          amount: (3n * TOKEN).toString(),
          transaction: toBase58(new Uint8Array(64).fill(9)),
        } as never),
      ),
    expect: refused(ErrorCode.TIP_NOT_ON_CHAIN),
  },
  {
    name: "tip claiming more than its transaction moved",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.tipper.sign("tip", {
          post: w.bobPost.id,
          to: w.bob.wallet,
          mint: w.chain.demoMint.address,
          amount: (2n * TOKEN).toString(),
          transaction: w.tipTransaction,
        } as never),
      ),
    expect: refused(ErrorCode.TIP_MISMATCH),
  },
  {
    name: "tip naming another post than its transaction's memo",
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.tipper.sign("tip", {
          post: w.alicePost.id,
          to: w.alice.wallet,
          mint: w.chain.demoMint.address,
          amount: TOKEN.toString(),
          transaction: w.tipTransaction,
        } as never),
      ),
    expect: refused(ErrorCode.TIP_MISMATCH),
  },
  {
    name: "one on-chain transfer backing two tips",
    prepare: (w) =>
      accept(
        w.url,
        w.tipper.sign("tip", {
          post: w.bobPost.id,
          to: w.bob.wallet,
          mint: w.chain.demoMint.address,
          amount: TOKEN.toString(),
          transaction: w.tipTransaction,
        } as never),
      ),
    send: (w) =>
      post(
        w.url,
        "/v1/actions",
        w.tipper.sign("tip", {
          post: w.bobPost.id,
          to: w.bob.wallet,
          mint: w.chain.demoMint.address,
          amount: TOKEN.toString(),
          transaction: w.tipTransaction,
        } as never),
      ),
    expect: refused(ErrorCode.TIP_REUSED),
  },
];

/** An equivocation stores exactly one proof and revokes exactly that session. */
function expectEquivocationChange(
  before: Digest,
  after: Digest,
  s: TestSession,
  by: "sequence" | "ordinal",
): void {
  const { added, removed } = diff(before, after);
  expect(Object.keys(added).sort()).toEqual(["equivocations", "sessions"]);
  expect(Object.keys(removed)).toEqual(["sessions"]);
  expect(added.equivocations).toHaveLength(1);
  expect(JSON.parse(added.equivocations?.[0] ?? "{}")).toMatchObject({ grant_id: s.grantId, by });
  expect(removed.sessions).toHaveLength(1);
  expect(added.sessions).toHaveLength(1);
  const was = JSON.parse(removed.sessions?.[0] ?? "{}") as Record<string, unknown>;
  const now = JSON.parse(added.sessions?.[0] ?? "{}") as Record<string, unknown>;
  expect(was).toMatchObject({ grant_id: s.grantId, status: "active" });
  expect(now).toMatchObject({ grant_id: s.grantId, status: "revoked", revoked_by: "equivocation" });
}

async function start(
  engine: (typeof ENGINES)[number],
  network: string,
  clock: () => number,
): Promise<Running> {
  const database = await testDatabase(engine);
  const node = await createNode({
    database: await database.open(),
    config: { verify: { ...TEST_CONTEXT, network, domains: [APP_DOMAIN] } },
    clock,
    chain: network === TEST_CONTEXT.network ? "embedded" : null,
  });
  const url = await node.app.listen({ port: 0, host: "127.0.0.1" });
  return { node, url, database };
}

async function stop(r: Running | undefined): Promise<void> {
  if (r === undefined) return;
  await r.node.close();
  await r.database.cleanup();
}

describe.each(ENGINES)("attacks through the HTTP API on %s", (engine) => {
  let now = NOW;
  let main: Running | undefined;
  let other: Running | undefined;
  let world: World;

  beforeAll(async () => {
    main = await start(engine, TEST_CONTEXT.network, () => now);
    other = await start(engine, "sesame-other", () => now);
    const url = main.url;
    const chain = main.node.ctx.embedded;
    if (chain === undefined) throw new Error("no embedded chain");
    const reg = (wallet: string, label: string, overrides: Record<string, unknown> = {}) =>
      registerSession(url, makeGrant(wallet, label, overrides));

    const alice = await reg("alice", "alice-session");
    const bob = await reg("bob", "bob-session");
    const alicePostAction = alice.sign("post", postBody("gm"));
    const alicePost = await accept(url, alicePostAction);
    const bobPost = await accept(url, bob.sign("post", postBody("tip me")));
    const postOnly = await reg("erin", "erin-post-only", {
      scopes: ["post"],
      tipBudget: null,
      limits: { post: { total: 10, perHour: 10 } },
    });
    const capped = await reg("frank", "frank-capped", {
      scopes: ["post"],
      tipBudget: null,
      limits: { post: { total: 2, perHour: 100 } },
    });
    const rated = await reg("grace", "grace-rated", {
      scopes: ["post"],
      tipBudget: null,
      limits: { post: { total: 100, perHour: 1 } },
    });
    const pending = await reg("heidi", "heidi-pending", {
      notBefore: NOW + DAY,
      expirationTime: NOW + 2 * DAY,
    });
    const shortLived = await reg("ivan", "ivan-short", { expirationTime: NOW + HOUR });
    const noDm = await reg("judy", "judy-no-dm", {
      scopes: ["post"],
      tipBudget: null,
      limits: { post: { total: 10, perHour: 10 } },
    });
    const revoked = await reg("carol", "carol-session");
    const revokedBy = revocation(revoked.walletKey, { kind: "grant", grant: revoked.grantId });
    expect((await post(url, "/v1/revocations", revokedBy)).status).toBe(200);
    const dave1 = await reg("dave", "dave-1");
    const dave2 = await reg("dave", "dave-2");
    expect(
      (
        await post(
          url,
          "/v1/revocations",
          revocation(dave1.walletKey, { kind: "all", issuedBefore: NOW }),
        )
      ).status,
    ).toBe(200);

    // A funded session on the embedded chain and one real tip to bob's post.
    const tipperGrant = makeGrant("tipper", "tipper-session", {
      tipBudget: { mint: chain.demoMint.address, amount: (2n * TOKEN).toString(), decimals: 6 },
    });
    const walletSigner = await createKeyPairSignerFromPrivateKeyBytes(tipperGrant.wallet.seed);
    const sessionSigner = await createKeyPairSignerFromPrivateKeyBytes(tipperGrant.session.seed);
    await chain.fund(walletSigner.address, { lamports: 10_000_000_000n, tokens: 10n * TOKEN });
    await startSession(chain, { grantText: tipperGrant.text, deviceId: DEVICE, walletSigner });
    const tipper = await registerSession(url, tipperGrant);
    const tipTransaction = await sendTip(chain, {
      grant: tipperGrant.grant,
      deviceId: DEVICE,
      sessionSigner,
      author: bob.wallet,
      amount: TOKEN,
      post: bobPost.id as never,
    });
    expect(sessionSigner.address).toBe(tipperGrant.grant.sessionKey as string as Address);

    world = {
      url,
      otherUrl: other.url,
      setClock: (ms) => {
        now = ms;
      },
      chain,
      alice,
      bob,
      alicePost,
      alicePostAction,
      bobPost,
      postOnly,
      capped,
      rated,
      pending,
      shortLived,
      revoked,
      revokedAll: [dave1, dave2],
      revokedBy,
      noDm,
      tipper,
      tipTransaction,
      fresh: (label, overrides = {}) => reg(label, `${label}-session`, overrides),
    };
  });

  afterEach(() => {
    now = NOW;
  });

  afterAll(async () => {
    await stop(main);
    await stop(other);
  });

  it("the table holds at least 30 distinct attacks", () => {
    expect(new Set(ATTACKS.map((a) => a.name)).size).toBe(ATTACKS.length);
    expect(ATTACKS.length).toBeGreaterThanOrEqual(30);
  });

  it("docs/SECURITY.md lists every attack of this table", async () => {
    const doc = await readFile(new URL("../../../docs/SECURITY.md", import.meta.url), "utf8");
    expect(ATTACKS.map((a) => a.name).filter((name) => !doc.includes(`| ${name} |`))).toEqual([]);
  });

  it.each(ATTACKS.map((a) => [a.name, a] as const))("%s", async (_name, attack) => {
    if (main === undefined || other === undefined) throw new Error("not started");
    const prepared = await attack.prepare?.(world);
    const before = [
      await digest(main.node.ctx.storage.db),
      await digest(other.node.ctx.storage.db),
    ];
    const reply = await attack.send(world, prepared);
    const after = [await digest(main.node.ctx.storage.db), await digest(other.node.ctx.storage.db)];

    if (attack.expect.duplicate) {
      expect(
        { status: reply.status, duplicate: (reply.body as { duplicate?: unknown }).duplicate },
        reply.text,
      ).toEqual({
        status: 200,
        duplicate: true,
      });
    } else {
      const code = attack.expect.code as ErrorCode;
      expect({ status: reply.status, body: reply.body }, reply.text).toEqual({
        status: attack.expect.status,
        body: {
          code,
          name: errorName(code),
          message: expect.any(String),
          context: expect.any(Object),
        },
      });
    }
    if (attack.change === undefined) {
      expect(after[0]).toEqual(before[0]);
    } else {
      attack.change(before[0] as Digest, after[0] as Digest, prepared);
    }
    expect(after[1]).toEqual(before[1]);
  });
});
