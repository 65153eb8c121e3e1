import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  concatBytes,
  type DmBody,
  type DmCopy,
  type EncryptionPublicKey,
  ErrorCode,
  fromBase58,
  fromBase64url,
  isSmallOrderX25519,
  ProtocolError,
  toBase58,
  toBase64url,
  utf8,
  type WalletAddress,
} from "@sesame/protocol";
import type { SessionKeys } from "./keys.js";

/**
 * End-to-end encryption of a direct message (docs/PROTOCOL.md §6.6):
 * for each recipient session key R, a fresh ephemeral X25519 key E,
 *   shared = X25519(e, R)
 *   info   = "sesame/1/dm" || sender (32) || recipient (32) || messageId (16)
 *   key || nonce = HKDF-SHA256(ikm = shared, salt = E || R, info, 56 bytes)
 *   copy   = XChaCha20-Poly1305(key, nonce, aad = info)(plaintext)
 * so a copy is bound to who sent it, to whom, and which message it is; a stolen session
 * key opens only the copies made for it, and destroying it destroys them.
 */
const LABEL = utf8("sesame/1/dm");

function bindings(from: WalletAddress, to: WalletAddress, messageId: Uint8Array): Uint8Array {
  return concatBytes(LABEL, fromBase58(from, "from"), fromBase58(to, "to"), messageId);
}

/** An X25519 key of small order gives a shared secret anyone can guess: 2003. */
function refuseSmallOrder(key: Uint8Array): void {
  if (isSmallOrderX25519(key))
    throw new ProtocolError(ErrorCode.SMALL_ORDER_PUBLIC_KEY, { publicKey: toBase58(key) });
}

function derive(
  shared: Uint8Array,
  ephemeral: Uint8Array,
  recipient: Uint8Array,
  info: Uint8Array,
) {
  if (shared.every((b) => b === 0)) throw new Error("refusing a small-order X25519 key");
  const okm = hkdf(sha256, shared, concatBytes(ephemeral, recipient), info, 56);
  return { key: okm.slice(0, 32), nonce: okm.slice(32) };
}

export interface DmPlaintext {
  readonly text: string;
}

/**
 * Encrypts `message` once per recipient encryption key; `random` supplies fresh bytes.
 * A small-order recipient key is refused (2003 SMALL_ORDER_PUBLIC_KEY).
 */
export function encryptDm(
  from: WalletAddress,
  to: WalletAddress,
  message: DmPlaintext,
  recipients: readonly EncryptionPublicKey[],
  random: (n: number) => Uint8Array = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
): DmBody {
  const messageId = random(16);
  const info = bindings(from, to, messageId);
  const plaintext = utf8(JSON.stringify({ text: message.text }));
  const copies: DmCopy[] = [...new Set(recipients)].map((key) => {
    const recipient = fromBase58(key, "recipient");
    refuseSmallOrder(recipient);
    const secret = random(32);
    const ephemeral = x25519.getPublicKey(secret);
    const { key: k, nonce } = derive(
      x25519.getSharedSecret(secret, recipient),
      ephemeral,
      recipient,
      info,
    );
    secret.fill(0);
    return {
      key,
      ephemeral: toBase58(ephemeral),
      ciphertext: toBase64url(xchacha20poly1305(k, nonce, info).encrypt(plaintext)),
    };
  });
  return { to, messageId: toBase58(messageId), copies };
}

/**
 * Opens the copy made for `keys` (a session's encryption key). Returns undefined when
 * no copy is for this session; throws when a copy is for it but does not authenticate
 * (tampered, or bound to another sender, recipient or message), and refuses a copy whose
 * ephemeral key, or a session whose own encryption key, is of small order (2003).
 */
export async function decryptDm(
  from: WalletAddress,
  body: DmBody,
  keys: SessionKeys,
): Promise<DmPlaintext | undefined> {
  const copy = body.copies.find((c) => c.key === keys.encryptionKey);
  if (copy === undefined) return undefined;
  const info = bindings(from, body.to, fromBase58(body.messageId, "messageId"));
  const ephemeral = fromBase58(copy.ephemeral, "ephemeral");
  refuseSmallOrder(ephemeral);
  refuseSmallOrder(fromBase58(keys.encryptionKey, "encryptionKey"));
  const shared = await keys.agree(ephemeral);
  const { key, nonce } = derive(
    shared,
    ephemeral,
    fromBase58(keys.encryptionKey, "encryptionKey"),
    info,
  );
  const plaintext = xchacha20poly1305(key, nonce, info).decrypt(
    fromBase64url(copy.ciphertext, "ciphertext"),
  );
  const parsed = JSON.parse(new TextDecoder().decode(plaintext)) as { text?: unknown };
  if (typeof parsed.text !== "string") throw new Error("the message has no text");
  return { text: parsed.text };
}
