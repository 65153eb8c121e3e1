import { sha256 } from "@noble/hashes/sha2.js";
import {
  canonicalJson,
  concatBytes,
  fromBase58,
  fromBase58Fixed,
  fromBase64url,
  prefixedUtf8,
  toBase58,
  utf8,
  utf8Length,
} from "./encoding.js";
import { describeValue, ErrorCode, ProtocolError } from "./errors.js";
import type { Scope } from "./grant.js";
import {
  type ActionId,
  assertActionId,
  assertEncryptionPublicKey,
  assertGrantId,
  assertMintAddress,
  assertSignature,
  assertWalletAddress,
  type EncryptionPublicKey,
  type GrantId,
  type MintAddress,
  type Signature,
  type WalletAddress,
} from "./ids.js";

export const ACTION_VERSION = 1;

export const ACTION_KINDS = [
  "post",
  "reply",
  "react",
  "unreact",
  "follow",
  "unfollow",
  "profile",
  "dm",
  "tip",
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** The scope each kind of action needs; its ordinal counts within that scope. */
export const SCOPE_OF_KIND: Readonly<Record<ActionKind, Scope>> = Object.freeze({
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

export const ACTION_LIMITS = Object.freeze({
  maxTextBytes: 1024,
  maxLinks: 4,
  maxUrlBytes: 512,
  maxMentions: 16,
  maxReactionBytes: 32,
  maxDisplayNameBytes: 64,
  maxBioBytes: 280,
  maxDmCopies: 16,
  maxDmCiphertextBytes: 4096,
  maxSignedBytes: 96 * 1024,
  maxCounter: Number.MAX_SAFE_INTEGER,
});

export interface PostBody {
  readonly text: string;
  readonly links: readonly string[];
  readonly mentions: readonly WalletAddress[];
}
export interface ReplyBody extends PostBody {
  readonly parent: ActionId;
}
export interface ReactBody {
  readonly target: ActionId;
  readonly reaction: string;
}
export interface FollowBody {
  readonly target: WalletAddress;
}
export interface ProfileBody {
  readonly displayName: string;
  readonly bio: string;
  readonly avatarUrl: string;
}
/** One encrypted copy of a direct message, for one session encryption key. */
export interface DmCopy {
  readonly key: EncryptionPublicKey;
  /** The sender's fresh ephemeral X25519 public key for this copy (base58). */
  readonly ephemeral: string;
  /** XChaCha20-Poly1305 ciphertext with its tag (base64url). */
  readonly ciphertext: string;
}
export interface DmBody {
  readonly to: WalletAddress;
  /** A random 16-byte id (base58) the copies are bound to. */
  readonly messageId: string;
  readonly copies: readonly DmCopy[];
}
export interface TipBody {
  readonly post: ActionId;
  readonly to: WalletAddress;
  readonly mint: MintAddress;
  /** Base units, decimal string. */
  readonly amount: string;
  /** The Solana transaction that moved the tokens. */
  readonly transaction: Signature;
}

export interface BodyOfKind {
  post: PostBody;
  reply: ReplyBody;
  react: ReactBody;
  unreact: ReactBody;
  follow: FollowBody;
  unfollow: FollowBody;
  profile: ProfileBody;
  dm: DmBody;
  tip: TipBody;
}

interface PayloadOf<K extends ActionKind> {
  readonly v: typeof ACTION_VERSION;
  readonly kind: K;
  readonly grant: GrantId;
  /** Session sequence number: unique per session, from 1. */
  readonly seq: number;
  /** Ordinal within the kind's scope: unique per session and scope, from 1. */
  readonly ord: number;
  /** Milliseconds since 1970, the signer's clock. */
  readonly ts: number;
  readonly body: BodyOfKind[K];
}

export type ActionPayload = { [K in ActionKind]: PayloadOf<K> }[ActionKind];

/** An action as it travels: the payload and the session key's signature over its bytes. */
export interface SignedAction {
  readonly payload: ActionPayload;
  readonly signature: Signature;
}

const PREFIXES: Readonly<Record<ActionKind, Uint8Array>> = Object.freeze(
  Object.fromEntries(
    ACTION_KINDS.map((k) => [k, concatBytes(Uint8Array.of(0xff), utf8(`sesame/1/action/${k}\n`))]),
  ) as Record<ActionKind, Uint8Array>,
);

/**
 * The exact bytes a session key signs for an action: 0xFF, the ASCII prefix
 * `sesame/1/action/<kind>\n`, then the RFC 8785 canonical JSON of the payload.
 * The only function that produces them.
 */
export function actionSigningBytes(payload: ActionPayload): Uint8Array {
  return prefixedUtf8(PREFIXES[payload.kind], canonicalJson(payload, "payload"));
}

export function actionIdOfBytes(bytes: Uint8Array): ActionId {
  return toBase58(sha256(bytes)) as ActionId;
}

export function actionIdOf(payload: ActionPayload): ActionId {
  return actionIdOfBytes(actionSigningBytes(payload));
}

function invalid(field: string, reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.INVALID_FIELD, { field, reason });
}

function record(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(field, "must be an object");
  }
  for (const k of Object.keys(value)) {
    if (!keys.includes(k))
      throw new ProtocolError(ErrorCode.UNKNOWN_FIELD, { field: `${field}.${k}` });
  }
  for (const k of keys) {
    if (!(k in value)) throw invalid(`${field}.${k}`, "is missing");
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, max: number, allowEmpty: boolean): string {
  if (typeof value !== "string") throw invalid(field, "must be a string");
  if (!allowEmpty && value.length === 0) throw invalid(field, "must not be empty");
  // Cheap bound first: a UTF-8 string has at least as many bytes as UTF-16 units / 1.
  if (value.length > max) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, { field, max, actual: utf8Length(value) });
  }
  const bytes = utf8Length(value);
  if (bytes > max)
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, { field, max, actual: bytes });
  // Lone surrogates have no UTF-8 form; refusing them keeps the signed bytes exact.
  if (!value.isWellFormed()) throw invalid(field, "must be well-formed Unicode");
  return value;
}

function counter(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw invalid(field, "must be an integer from 1 to 2^53 - 1");
  }
  return value as number;
}

const URL_RE = /^https?:\/\/[!-~]+$/;

function url(value: unknown, field: string, allowEmpty: boolean): string {
  const s = text(value, field, ACTION_LIMITS.maxUrlBytes, allowEmpty);
  if (s !== "" && !URL_RE.test(s)) throw invalid(field, "must be an http(s) URL without spaces");
  return s;
}

function list<T>(
  value: unknown,
  field: string,
  max: number,
  item: (v: unknown, f: string) => T,
): T[] {
  if (!Array.isArray(value)) throw invalid(field, "must be an array");
  if (value.length > max) {
    throw new ProtocolError(ErrorCode.FIELD_TOO_LARGE, { field, max, actual: value.length });
  }
  return value.map((v, i) => item(v, `${field}[${i}]`));
}

function wallet(value: unknown, field: string): WalletAddress {
  assertWalletAddress(value, field);
  return value;
}

function postBody(b: Record<string, unknown>, field: string): PostBody {
  const mentions = list(b.mentions, `${field}.mentions`, ACTION_LIMITS.maxMentions, wallet);
  if (new Set(mentions).size !== mentions.length)
    throw invalid(`${field}.mentions`, "must be distinct");
  return {
    text: text(b.text, `${field}.text`, ACTION_LIMITS.maxTextBytes, false),
    links: list(b.links, `${field}.links`, ACTION_LIMITS.maxLinks, (v, f) => url(v, f, false)),
    mentions,
  };
}

function base58Bytes(value: unknown, field: string, length: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 100) {
    throw new ProtocolError(ErrorCode.INVALID_BASE58, { field });
  }
  const actual = fromBase58(value, field).length;
  if (actual !== length)
    throw new ProtocolError(ErrorCode.INVALID_LENGTH, { field, expected: length, actual });
  return value;
}

const AMOUNT_RE = /^[1-9][0-9]{0,19}$/;
const U64_MAX = 18_446_744_073_709_551_615n;

function body(kind: ActionKind, value: unknown): BodyOfKind[ActionKind] {
  const f = "payload.body";
  switch (kind) {
    case "post":
      return postBody(record(value, f, ["text", "links", "mentions"]), f);
    case "reply": {
      const b = record(value, f, ["parent", "text", "links", "mentions"]);
      assertActionId(b.parent, `${f}.parent`);
      return { parent: b.parent, ...postBody(b, f) };
    }
    case "react":
    case "unreact": {
      const b = record(value, f, ["target", "reaction"]);
      assertActionId(b.target, `${f}.target`);
      return {
        target: b.target,
        reaction: text(b.reaction, `${f}.reaction`, ACTION_LIMITS.maxReactionBytes, false),
      };
    }
    case "follow":
    case "unfollow": {
      const b = record(value, f, ["target"]);
      return { target: wallet(b.target, `${f}.target`) };
    }
    case "profile": {
      const b = record(value, f, ["displayName", "bio", "avatarUrl"]);
      return {
        displayName: text(
          b.displayName,
          `${f}.displayName`,
          ACTION_LIMITS.maxDisplayNameBytes,
          true,
        ),
        bio: text(b.bio, `${f}.bio`, ACTION_LIMITS.maxBioBytes, true),
        avatarUrl: url(b.avatarUrl, `${f}.avatarUrl`, true),
      };
    }
    case "dm": {
      const b = record(value, f, ["to", "messageId", "copies"]);
      const copies = list(b.copies, `${f}.copies`, ACTION_LIMITS.maxDmCopies, (v, cf): DmCopy => {
        const c = record(v, cf, ["key", "ephemeral", "ciphertext"]);
        assertEncryptionPublicKey(c.key, `${cf}.key`);
        const ciphertext = text(
          c.ciphertext,
          `${cf}.ciphertext`,
          ACTION_LIMITS.maxDmCiphertextBytes,
          false,
        );
        fromBase64url(ciphertext, `${cf}.ciphertext`);
        return {
          key: c.key,
          ephemeral: base58Bytes(c.ephemeral, `${cf}.ephemeral`, 32),
          ciphertext,
        };
      });
      if (copies.length === 0) throw invalid(`${f}.copies`, "must hold at least one copy");
      if (new Set(copies.map((c) => c.key)).size !== copies.length) {
        throw invalid(`${f}.copies`, "must be for distinct keys");
      }
      return {
        to: wallet(b.to, `${f}.to`),
        messageId: base58Bytes(b.messageId, `${f}.messageId`, 16),
        copies,
      };
    }
    case "tip": {
      const b = record(value, f, ["post", "to", "mint", "amount", "transaction"]);
      assertActionId(b.post, `${f}.post`);
      assertMintAddress(b.mint, `${f}.mint`);
      assertSignature(b.transaction, `${f}.transaction`);
      if (typeof b.amount !== "string" || !AMOUNT_RE.test(b.amount) || BigInt(b.amount) > U64_MAX) {
        throw invalid(`${f}.amount`, "must be a positive u64 in base units, as a decimal string");
      }
      return {
        post: b.post,
        to: wallet(b.to, `${f}.to`),
        mint: b.mint,
        amount: b.amount,
        transaction: b.transaction,
      };
    }
  }
}

/**
 * Checks the shape of an action payload (every field, every size) and returns a new
 * payload holding only what was checked. Throws a ProtocolError.
 */
export function validateActionPayload(value: unknown): ActionPayload {
  const p = record(value, "payload", ["v", "kind", "grant", "seq", "ord", "ts", "body"]);
  if (p.v !== ACTION_VERSION)
    throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, { version: describeValue(p.v) });
  if (typeof p.kind !== "string" || !(ACTION_KINDS as readonly string[]).includes(p.kind)) {
    throw new ProtocolError(ErrorCode.UNKNOWN_KIND, { kind: describeValue(p.kind, 32) });
  }
  const kind = p.kind as ActionKind;
  assertGrantId(p.grant, "payload.grant");
  const ts = p.ts;
  if (!Number.isSafeInteger(ts) || (ts as number) < 0)
    throw invalid("payload.ts", "must be milliseconds since 1970");
  return {
    v: ACTION_VERSION,
    kind,
    grant: p.grant,
    seq: counter(p.seq, "payload.seq"),
    ord: counter(p.ord, "payload.ord"),
    ts: ts as number,
    body: body(kind, p.body),
  } as ActionPayload;
}

/** Checks the wire shape `{payload, signature}`; also returns the signature's bytes. */
export function decodeSignedActionWithBytes(value: unknown): {
  readonly signed: SignedAction;
  readonly signatureBytes: Uint8Array;
} {
  const w = record(value, "action", ["payload", "signature"]);
  const signatureBytes = fromBase58Fixed(w.signature, 64, "signature");
  return {
    signed: { payload: validateActionPayload(w.payload), signature: w.signature as Signature },
    signatureBytes,
  };
}

/** Checks the wire shape `{payload, signature}`. */
export function decodeSignedAction(value: unknown): SignedAction {
  return decodeSignedActionWithBytes(value).signed;
}
