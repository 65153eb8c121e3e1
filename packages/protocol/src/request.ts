import { verifyEd25519Strict } from "./crypto/strict.js";
import type { Ed25519Backend } from "./crypto/types.js";
import { canonicalJson, concatBytes, fromBase58, prefixedUtf8, utf8 } from "./encoding.js";
import { ErrorCode, ProtocolError } from "./errors.js";
import { type GrantId, isGrantId, isSignature, type Signature } from "./ids.js";
import type { VerifiedGrant } from "./verify.js";

/**
 * A read request signed by a session key (e.g. a wallet's DM inbox). The session key
 * signs 0xFF, `sesame/1/request\n`, then the RFC 8785 JSON of this payload.
 */
export interface RequestPayload {
  readonly v: 1;
  readonly grant: GrantId;
  /** Upper-case HTTP method. */
  readonly method: string;
  /** Path and query exactly as sent, e.g. `/v1/wallets/<addr>/inbox?limit=50`. */
  readonly path: string;
  /** Milliseconds since 1970, the signer's clock. */
  readonly ts: number;
}

export interface SignedRequest {
  readonly payload: RequestPayload;
  readonly signature: Signature;
}

const REQUEST_PREFIX = concatBytes(Uint8Array.of(0xff), utf8("sesame/1/request\n"));

/** Requests are accepted this far either side of the node's clock. */
export const REQUEST_MAX_SKEW_MS = 60_000;

export function requestSigningBytes(payload: RequestPayload): Uint8Array {
  return prefixedUtf8(REQUEST_PREFIX, canonicalJson(payload, "payload"));
}

function unauthorized(reason: string): ProtocolError {
  return new ProtocolError(ErrorCode.UNAUTHORIZED_REQUEST, { reason });
}

/** Checks the shape of a signed request as carried in the `Sesame-Request` header (JSON). */
export function decodeSignedRequest(value: unknown): SignedRequest {
  if (typeof value !== "object" || value === null)
    throw unauthorized("the signed request is not an object");
  const { payload, signature } = value as Record<string, unknown>;
  if (typeof payload !== "object" || payload === null) throw unauthorized("no payload");
  const p = payload as Record<string, unknown>;
  const keys = Object.keys(p).sort().join(",");
  if (keys !== "grant,method,path,ts,v" || p.v !== 1)
    throw unauthorized("the payload has the wrong fields");
  if (!isGrantId(p.grant)) throw unauthorized("payload.grant is not a grant id");
  if (!isSignature(signature)) throw unauthorized("signature is not a base58 Ed25519 signature");
  if (typeof p.method !== "string" || !/^[A-Z]{3,7}$/.test(p.method))
    throw unauthorized("bad method");
  if (typeof p.path !== "string" || !p.path.startsWith("/") || p.path.length > 2048)
    throw unauthorized("bad path");
  if (!Number.isSafeInteger(p.ts) || (p.ts as number) < 0) throw unauthorized("bad timestamp");
  return {
    payload: { v: 1, grant: p.grant, method: p.method, path: p.path, ts: p.ts as number },
    signature,
  };
}

/**
 * Verifies that `request` was signed by the grant's session key for exactly this method
 * and path, within the clock skew. Liveness and scope of the session are the caller's.
 */
export async function verifySignedRequest(
  request: SignedRequest,
  expected: { readonly method: string; readonly path: string; readonly now: number },
  grant: VerifiedGrant,
  backend: Ed25519Backend,
): Promise<void> {
  const p = request.payload;
  if (p.grant !== grant.id) throw unauthorized("the request names another session");
  if (p.method !== expected.method || p.path !== expected.path) {
    throw unauthorized("the request was signed for another method or path");
  }
  if (Math.abs(p.ts - expected.now) > REQUEST_MAX_SKEW_MS)
    throw unauthorized("the request is too old or too new");
  try {
    await verifyEd25519Strict(
      backend,
      grant.sessionKeyBytes,
      requestSigningBytes(p),
      fromBase58(request.signature, "signature"),
      grant.grant.sessionKey,
    );
  } catch (e) {
    if (e instanceof ProtocolError) throw unauthorized(e.message);
    throw e;
  }
}
