/**
 * Deterministic keys, grants and signed messages from fixed seeds, for tests, the test
 * vector generator and demos. Uses @noble/curves for signing (RFC 8032 deterministic).
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  type ActionPayload,
  actionSigningBytes,
  type Grant,
  grantToText,
  type RequestPayload,
  type Revocation,
  requestSigningBytes,
  revocationToText,
  type Signature,
  type SignedAction,
  toBase58,
  utf8,
  validateGrant,
} from "../src/index.js";

export interface TestKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly address: string;
  sign(message: Uint8Array): Uint8Array;
}

/** An Ed25519 key whose 32-byte seed is SHA-256 of the label. */
export function testKey(label: string): TestKey {
  const seed = sha256(utf8(`sesame test key: ${label}`));
  const publicKey = ed25519.getPublicKey(seed);
  return Object.freeze({
    seed,
    publicKey,
    address: toBase58(publicKey),
    sign: (message: Uint8Array) => ed25519.sign(message, seed),
  });
}

/** An X25519 public key derived from the label. */
export function testEncryptionKey(label: string): string {
  return toBase58(x25519.getPublicKey(sha256(utf8(`sesame test x25519: ${label}`))));
}

export function testNonce(label: string): string {
  return toBase58(sha256(utf8(`sesame test nonce: ${label}`)).slice(0, 16));
}

export const T0 = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const TEST_CONTEXT = Object.freeze({ chain: "solana:localnet", network: "sesame-test" });

export interface GrantFixture {
  readonly wallet: TestKey;
  readonly session: TestKey;
  readonly grant: Grant;
  readonly text: string;
  readonly signature: Signature;
}

/** A valid grant from `wallet` to `session`, overridable field by field. */
export function makeGrant(
  walletLabel = "alice",
  sessionLabel = "alice-session-1",
  overrides: Record<string, unknown> = {},
): GrantFixture {
  const wallet = testKey(walletLabel);
  const session = testKey(sessionLabel);
  const grant = validateGrant({
    version: 1,
    domain: "app.sesame.test",
    wallet: wallet.address,
    statement: "Let this app post, reply, react, follow, edit my profile, send DMs and tip for me.",
    uri: "https://app.sesame.test/",
    chain: TEST_CONTEXT.chain,
    network: TEST_CONTEXT.network,
    device: "Test device",
    sessionKey: session.address,
    encryptionKey: testEncryptionKey(sessionLabel),
    scopes: ["post", "reply", "react", "follow", "profile", "dm", "tip"],
    limits: {
      post: { total: 50, perHour: 20 },
      reply: { total: 100, perHour: 30 },
      react: { total: null, perHour: 120 },
      follow: { total: 200, perHour: null },
      profile: { total: 10, perHour: 5 },
      dm: { total: 500, perHour: 60 },
      tip: { total: 20, perHour: 10 },
    },
    tipBudget: { mint: testKey("mint").address, amount: "5000000", decimals: 6 },
    issuedAt: T0,
    notBefore: T0,
    expirationTime: T0 + 7 * DAY,
    nonce: testNonce(`${walletLabel}/${sessionLabel}`),
    ...overrides,
  });
  const text = grantToText(grant);
  const signature = toBase58(wallet.sign(utf8(text))) as Signature;
  return { wallet, session, grant, text, signature };
}

export function signAction(session: TestKey, payload: ActionPayload): SignedAction {
  return { payload, signature: toBase58(session.sign(actionSigningBytes(payload))) as Signature };
}

export function signRevocation(wallet: TestKey, revocation: Revocation) {
  const text = revocationToText(revocation);
  return { text, signature: toBase58(wallet.sign(utf8(text))) as Signature };
}

export function signRequest(session: TestKey, payload: RequestPayload) {
  return { payload, signature: toBase58(session.sign(requestSigningBytes(payload))) as Signature };
}
