import { describe, expect, it } from "vitest";
import { signRequest, T0, testKey } from "../scripts/fixtures.js";
import {
  canonicalJson,
  concatBytes,
  decodeSignedRequest,
  ErrorCode,
  REQUEST_MAX_SKEW_MS,
  type RequestPayload,
  requestSigningBytes,
  type Signature,
  toBase58,
  utf8,
  verifySignedRequest,
} from "../src/index.js";
import { backend, expectCode, expectCodeAsync, verifiedGrant } from "./helpers.js";

const PATH = `/v1/wallets/${testKey("alice").address}/inbox?limit=50`;
const NOW = T0 + 5000;

async function setup(over: Partial<RequestPayload> = {}) {
  const s = await verifiedGrant();
  const payload: RequestPayload = {
    v: 1,
    grant: s.verified.id,
    method: "GET",
    path: PATH,
    ts: NOW,
    ...over,
  };
  return { s, signed: signRequest(s.session, payload) };
}

const expected = { method: "GET", path: PATH, now: NOW };

describe("requestSigningBytes", () => {
  it("is 0xFF, sesame/1/request and a newline, then the canonical JSON of the payload", async () => {
    const { signed } = await setup();
    expect(requestSigningBytes(signed.payload)).toEqual(
      concatBytes(
        Uint8Array.of(0xff),
        utf8("sesame/1/request\n"),
        utf8(canonicalJson(signed.payload)),
      ),
    );
  });
});

describe("decodeSignedRequest", () => {
  it("accepts the JSON of a signed request as carried in the header", async () => {
    const { signed } = await setup();
    expect(decodeSignedRequest(JSON.parse(JSON.stringify(signed)))).toEqual(signed);
  });

  it("refuses a non-object, a missing payload or the wrong fields with 6005", async () => {
    const { signed } = await setup();
    for (const value of [
      null,
      "x",
      { signature: signed.signature },
      { payload: { ...signed.payload, extra: 1 }, signature: signed.signature },
      { payload: { ...signed.payload, v: 2 }, signature: signed.signature },
    ]) {
      expectCode(() => decodeSignedRequest(value), ErrorCode.UNAUTHORIZED_REQUEST);
    }
    const { ts: _ts, ...noTs } = signed.payload;
    expectCode(
      () => decodeSignedRequest({ payload: noTs, signature: signed.signature }),
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
  });

  it("refuses a bad method, path or timestamp with 6005", async () => {
    const { signed } = await setup();
    for (const over of [
      { method: "get" },
      { method: "G" },
      { method: 1 },
      { path: "v1/inbox" },
      { path: `/${"a".repeat(2048)}` },
      { path: 5 },
      { ts: 1.5 },
      { ts: "0" },
    ]) {
      const e = expectCode(
        () =>
          decodeSignedRequest({
            payload: { ...signed.payload, ...over },
            signature: signed.signature,
          }),
        ErrorCode.UNAUTHORIZED_REQUEST,
      );
      expect(e.status).toBe(401);
    }
  });

  it("refuses a malformed grant id or signature with 6005 like every request refusal", async () => {
    const { signed } = await setup();
    expectCode(
      () =>
        decodeSignedRequest({
          payload: { ...signed.payload, grant: "0" },
          signature: signed.signature,
        }),
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
    expectCode(
      () =>
        decodeSignedRequest({ payload: signed.payload, signature: toBase58(new Uint8Array(10)) }),
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
  });
});

describe("verifySignedRequest", () => {
  it("accepts a request signed by the session key for this method and path", async () => {
    const { s, signed } = await setup();
    await expect(
      verifySignedRequest(signed, expected, s.verified, backend),
    ).resolves.toBeUndefined();
  });

  it("refuses another path or method with 6005", async () => {
    const { s, signed } = await setup();
    for (const exp of [
      { ...expected, path: "/v1/wallets/x/inbox?limit=51" },
      { ...expected, path: `${PATH}&` },
      { ...expected, method: "POST" },
    ]) {
      const e = await expectCodeAsync(
        () => verifySignedRequest(signed, exp, s.verified, backend),
        ErrorCode.UNAUTHORIZED_REQUEST,
      );
      expect(e.context).toEqual({ reason: "the request was signed for another method or path" });
    }
  });

  it("accepts up to 60 s of skew either way and refuses more with 6005", async () => {
    const { s, signed } = await setup();
    for (const now of [NOW - REQUEST_MAX_SKEW_MS, NOW + REQUEST_MAX_SKEW_MS]) {
      await expect(
        verifySignedRequest(signed, { ...expected, now }, s.verified, backend),
      ).resolves.toBeUndefined();
    }
    for (const now of [NOW - REQUEST_MAX_SKEW_MS - 1, NOW + REQUEST_MAX_SKEW_MS + 1]) {
      const e = await expectCodeAsync(
        () => verifySignedRequest(signed, { ...expected, now }, s.verified, backend),
        ErrorCode.UNAUTHORIZED_REQUEST,
      );
      expect(e.context).toEqual({ reason: "the request is too old or too new" });
    }
  });

  it("refuses a request naming another session with 6005", async () => {
    const { signed } = await setup();
    const other = await verifiedGrant("alice", "alice-session-2");
    const e = await expectCodeAsync(
      () => verifySignedRequest(signed, expected, other.verified, backend),
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
    expect(e.context).toEqual({ reason: "the request names another session" });
  });

  it("refuses a bad signature with 6005, carrying the signature error's message", async () => {
    const { s, signed } = await setup();
    const byWallet = signRequest(s.wallet, signed.payload);
    const e = await expectCodeAsync(
      () => verifySignedRequest(byWallet, expected, s.verified, backend),
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
    expect((e.context as { reason: string }).reason).toBe(
      `The signature of ${s.grant.sessionKey} does not verify`,
    );
    const zero = { ...signed, signature: toBase58(new Uint8Array(64)) as Signature };
    await expectCodeAsync(
      () => verifySignedRequest(zero, expected, s.verified, backend),
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
    const nonCanonical = {
      ...signed,
      signature: toBase58(new Uint8Array(64).fill(0xff)) as Signature,
    };
    await expectCodeAsync(
      () => verifySignedRequest(nonCanonical, expected, s.verified, backend),
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
  });
});
