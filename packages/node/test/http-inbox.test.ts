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

  it("pages by cursor to the end, newest first, and hides what a session compromised since T sent", async () => {
    const { url, clock } = await freshNode(engine);
    const alice = await session(url, "alice", "alice-s1");
    const reader = await session(url, "alice", "alice-s2");
    const bob = await session(url, "bob");
    /** Every page of `wallet`'s inbox, each request signed by `by`. */
    const allPages = async (by: typeof alice, wallet: string, limit: number): Promise<Page[]> => {
      const pages: Page[] = [];
      let cursor: string | null = "";
      while (cursor !== null) {
        const path: string = `/v1/wallets/${wallet}/inbox?limit=${limit}${cursor === "" ? "" : `&cursor=${cursor}`}`;
        const reply = await get<Page>(url, path, {
          "sesame-request": by.requestHeader(path, clock.now()),
        });
        expect(reply.status).toBe(200);
        pages.push(reply.body);
        cursor = reply.body.next;
      }
      return pages;
    };
    const ids = (pages: Page[]): string[] => pages.flatMap((p) => p.items.map((i) => i.id));

    const expected: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      expected.unshift((await accept(url, bob.sign("dm", dmBody(alice, `bob ${i}`)))).id);
      if (i % 2 === 0)
        expected.unshift((await accept(url, alice.sign("dm", dmBody(bob, `alice ${i}`)))).id);
    }
    const pages = await allPages(reader, alice.wallet, 3);
    expect(pages.map((p) => p.items.length)).toEqual([3, 3, 2]);
    expect(ids(pages)).toEqual(expected);
    const logIds = pages.flatMap((p) => p.items.map((i) => i.logId));
    expect(logIds).toEqual([...logIds].sort((a, b) => b - a));

    // alice-s1's key is stolen at T: what it sends from then on is hidden, Bob's DMs stay.
    clock.advance(60_000);
    const T = clock.now();
    const stolen = await accept(url, alice.sign("dm", dmBody(bob, "send me your seed phrase")));
    const bobLater = await accept(url, bob.sign("dm", dmBody(alice, "bob after T")));
    expect(ids(await allPages(reader, alice.wallet, 3))).toEqual([
      bobLater.id,
      stolen.id,
      ...expected,
    ]);
    clock.advance(1000);
    const rev = revocation(
      alice.walletKey,
      { kind: "grant", grant: alice.grantId },
      { compromisedSince: T, issuedAt: clock.now() },
    );
    expect((await post(url, "/v1/revocations", rev)).status).toBe(200);
    expect(ids(await allPages(reader, alice.wallet, 3))).toEqual([bobLater.id, ...expected]);
    expect(ids(await allPages(bob, bob.wallet, 100))).not.toContain(stolen.id);
    expect(ids(await allPages(bob, bob.wallet, 100))).toContain(bobLater.id);
  });
});
