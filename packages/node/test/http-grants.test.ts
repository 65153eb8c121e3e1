import { grantIdOfText } from "@sesame/protocol";
import { describe, expect, it } from "vitest";
import { DAY, makeGrant, T0 } from "../../protocol/scripts/fixtures.js";
import {
  ENGINES,
  ErrorCode,
  expectRefusal,
  freshNode,
  get,
  NOW,
  post,
  revocation,
} from "./helpers.js";

const signed = (f: { text: string; signature: string }) => ({
  text: f.text,
  signature: f.signature,
});

describe.each(ENGINES)("POST /v1/grants and GET /v1/grants/:id on %s", (engine) => {
  it("stores a grant once: 201, then 200 with the same answer, and serves it as signed", async () => {
    const { url } = await freshNode(engine);
    const f = makeGrant("alice", "alice-s1");
    const first = await post<{ id: string; logId: number }>(url, "/v1/grants", signed(f));
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.any(String),
      wallet: f.wallet.address,
      status: "live",
      duplicate: false,
      logId: expect.any(Number),
    });
    const again = await post(url, "/v1/grants", signed(f));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, duplicate: true });

    const stored = await get(url, `/v1/grants/${first.body.id}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toEqual({
      id: first.body.id,
      wallet: f.wallet.address,
      text: f.text,
      signature: f.signature,
      form: "message",
      transaction: null,
    });
  });

  it("answers a grant that starts later as pending", async () => {
    const { url } = await freshNode(engine);
    const f = makeGrant("alice", "alice-later", {
      notBefore: NOW + DAY,
      expirationTime: NOW + 2 * DAY,
    });
    const reply = await post(url, "/v1/grants", signed(f));
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ status: "pending", duplicate: false });
  });

  it("refuses bad signatures, other chains and networks, expired and future grants", async () => {
    const { url } = await freshNode(engine);
    const alice = makeGrant("alice", "alice-s1");
    const other = makeGrant("alice", "alice-s2");
    expectRefusal(
      await post(url, "/v1/grants", { text: alice.text, signature: other.signature }),
      401,
      ErrorCode.BAD_SIGNATURE,
    );
    expectRefusal(
      await post(
        url,
        "/v1/grants",
        signed(makeGrant("alice", "s-chain", { chain: "solana:devnet" })),
      ),
      403,
      ErrorCode.GRANT_CHAIN_MISMATCH,
    );
    expectRefusal(
      await post(url, "/v1/grants", signed(makeGrant("alice", "s-net", { network: "elsewhere" }))),
      403,
      ErrorCode.GRANT_NETWORK_MISMATCH,
    );
    expectRefusal(
      await post(
        url,
        "/v1/grants",
        signed(makeGrant("alice", "s-expired", { expirationTime: NOW - 1 })),
      ),
      403,
      ErrorCode.GRANT_EXPIRED,
    );
    const future = NOW + 10 * 60_000;
    expectRefusal(
      await post(
        url,
        "/v1/grants",
        signed(
          makeGrant("alice", "s-future", {
            issuedAt: future,
            notBefore: future,
            expirationTime: future + DAY,
          }),
        ),
      ),
      400,
      ErrorCode.GRANT_ISSUED_IN_FUTURE,
    );
    expectRefusal(
      await post(url, "/v1/grants", { text: "not a grant", signature: alice.signature }),
      400,
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
    // None of them was stored.
    const sessions = await get<{ items: unknown[] }>(
      url,
      `/v1/wallets/${alice.wallet.address}/sessions`,
    );
    expect(sessions.body.items).toEqual([]);
  });

  it("refuses a second grant for a session key another grant already holds", async () => {
    const { url } = await freshNode(engine);
    const first = makeGrant("alice", "alice-s1");
    const reuse = makeGrant("alice", "alice-s1", { device: "Another device" });
    expect((await post(url, "/v1/grants", signed(first))).status).toBe(201);
    const reply = await post(url, "/v1/grants", signed(reuse));
    expectRefusal(reply, 400, ErrorCode.INVALID_FIELD);
    expect(reply.body).toMatchObject({ context: { field: "sessionKey" } });
  });

  it("refuses a grant that a stored revocation already covers", async () => {
    const { url } = await freshNode(engine);
    const all = makeGrant("dave", "dave-s1");
    const one = makeGrant("erin", "erin-s1");
    // Revoke everything dave issued before T0 + 1 and erin's one grant, before they arrive.
    expect(
      (
        await post(
          url,
          "/v1/revocations",
          revocation(all.wallet, { kind: "all", issuedBefore: T0 + 1 }),
        )
      ).status,
    ).toBe(200);
    const oneId = grantIdOfText(one.text);
    expect(
      (await post(url, "/v1/revocations", revocation(one.wallet, { kind: "grant", grant: oneId })))
        .status,
    ).toBe(200);

    expectRefusal(await post(url, "/v1/grants", signed(all)), 403, ErrorCode.GRANT_REVOKED);
    expectRefusal(await post(url, "/v1/grants", signed(one)), 403, ErrorCode.GRANT_REVOKED);
    // A grant dave issues after the cut-off is not covered.
    const later = makeGrant("dave", "dave-s2", { issuedAt: T0 + 1, notBefore: T0 + 1 });
    expect((await post(url, "/v1/grants", signed(later))).status).toBe(201);
  });

  it("answers 404 for an unknown grant and 400 for a malformed id", async () => {
    const { url } = await freshNode(engine);
    const unknown = makeGrant("nobody", "nobody-s1");
    const id = grantIdOfText(unknown.text);
    expectRefusal(await get(url, `/v1/grants/${id}`), 404, ErrorCode.NOT_FOUND);
    expectRefusal(await get(url, "/v1/grants/not-an-id"), 400, ErrorCode.INVALID_FIELD);
  });
});
