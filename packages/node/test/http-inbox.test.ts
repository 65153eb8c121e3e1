import { describe, expect, it } from "vitest";
import type { ServedAction } from "../src/index.js";
import {
  accept,
  dmBody,
  ENGINES,
  ErrorCode,
  expectRefusal,
  freshNode,
  get,
  post,
  postBody,
  revocation,
  session,
} from "./helpers.js";

type Page = { items: ServedAction[]; next: string | null };

describe.each(ENGINES)("GET /v1/wallets/:w/inbox on %s", (engine) => {
  it("serves a wallet's DMs, ciphertext only, to a request signed by its live dm session", async () => {
    const { url, clock } = await freshNode(engine);
    const alice = await session(url, "alice");
    const bob = await session(url, "bob");
    const carol = await session(url, "carol");
    const toAlice = await accept(url, bob.sign("dm", dmBody(alice, "bob to alice")));
    const fromAlice = await accept(url, alice.sign("dm", dmBody(bob, "alice to bob")));
    await accept(url, carol.sign("dm", dmBody(bob, "carol to bob")));
    await accept(url, alice.sign("post", postBody("a post is not a DM")));

    const path = `/v1/wallets/${alice.wallet}/inbox`;
    const reply = await get<Page>(url, path, {
      "sesame-request": alice.requestHeader(path, clock.now()),
    });
    expect(reply.status).toBe(200);
    expect(reply.body.items.map((i) => i.id)).toEqual([fromAlice.id, toAlice.id]);
    expect(reply.body.next).toBeNull();
    for (const item of reply.body.items) {
      expect(Object.keys(item).sort()).toEqual(
        ["grant", "id", "kind", "logId", "payload", "receivedAt", "signature", "wallet"].sort(),
      );
      const body = (item.payload as { body: Record<string, unknown> }).body;
      expect(Object.keys(body).sort()).toEqual(["copies", "messageId", "to"]);
      for (const copy of body.copies as Record<string, string>[]) {
        expect(Object.keys(copy).sort()).toEqual(["ciphertext", "ephemeral", "key"]);
      }
    }
    expect(reply.text).not.toContain("bob to alice");

    // The query is part of what is signed.
    const paged = `${path}?limit=1`;
    const first = await get<Page>(url, paged, {
      "sesame-request": alice.requestHeader(paged, clock.now()),
    });
    expect(first.body.items.map((i) => i.id)).toEqual([fromAlice.id]);
    expect(first.body.next).toEqual(expect.any(String));
  });

  it("refuses with 6005 without a header, for another wallet, without dm, on the wrong path, too old", async () => {
    const { url, clock } = await freshNode(engine);
    const alice = await session(url, "alice");
    const bob = await session(url, "bob");
    const alicePoster = await session(url, "alice", "alice-poster", {
      scopes: ["post"],
      limits: { post: { total: 10, perHour: null } },
      tipBudget: null,
    });
    const path = `/v1/wallets/${alice.wallet}/inbox`;
    const now = clock.now();
    const refuse = async (headers?: Record<string, string>, at = path) =>
      expectRefusal(await get(url, at, headers), 401, ErrorCode.UNAUTHORIZED_REQUEST);

    await refuse();
    await refuse({ "sesame-request": "not base64url json!" });
    const malformed = {
      payload: { v: 1, grant: "0OIl", method: "GET", path, ts: now },
      signature: "x",
    };
    await refuse({
      "sesame-request": Buffer.from(JSON.stringify(malformed)).toString("base64url"),
    });
    await refuse({ "sesame-request": bob.requestHeader(path, now) });
    await refuse({ "sesame-request": alicePoster.requestHeader(path, now) });
    await refuse({ "sesame-request": alice.requestHeader(`${path}?limit=5`, now) });
    await refuse({ "sesame-request": alice.requestHeader(path, now, "POST") });
    await refuse({ "sesame-request": alice.requestHeader(path, now - 5 * 60_000) });
    await refuse({ "sesame-request": alice.requestHeader(path, now + 5 * 60_000) });
    const signed = JSON.parse(
      Buffer.from(alice.requestHeader(path, now), "base64url").toString(),
    ) as { payload: { ts: number } };
    signed.payload.ts += 1; // no longer what the session signed
    await refuse({ "sesame-request": Buffer.from(JSON.stringify(signed)).toString("base64url") });
    // Bob's own inbox with bob's header works, alice's never does.
    const bobPath = `/v1/wallets/${bob.wallet}/inbox`;
    expect(
      (await get(url, bobPath, { "sesame-request": bob.requestHeader(bobPath, now) })).status,
    ).toBe(200);
    await refuse({ "sesame-request": bob.requestHeader(bobPath, now) });
  });

  it("refuses a revoked or expired session's request", async () => {
    const { url, clock } = await freshNode(engine);
    const alice = await session(url, "alice", "alice-s1");
    const alice2 = await session(url, "alice", "alice-s2");
    const path = `/v1/wallets/${alice.wallet}/inbox`;
    const ok = await get(url, path, { "sesame-request": alice.requestHeader(path, clock.now()) });
    expect(ok.status).toBe(200);
    expect(
      (
        await post(
          url,
          "/v1/revocations",
          revocation(alice.walletKey, { kind: "grant", grant: alice.grantId }),
        )
      ).status,
    ).toBe(200);
    expectRefusal(
      await get(url, path, { "sesame-request": alice.requestHeader(path, clock.now()) }),
      401,
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
    expect(
      (await get(url, path, { "sesame-request": alice2.requestHeader(path, clock.now()) })).status,
    ).toBe(200);
    clock.set(alice2.fixture.grant.expirationTime);
    expectRefusal(
      await get(url, path, { "sesame-request": alice2.requestHeader(path, clock.now()) }),
      401,
      ErrorCode.UNAUTHORIZED_REQUEST,
    );
  });
});
