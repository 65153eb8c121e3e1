import { describe, expect, it } from "vitest";
import type { ServedProfile, ServedSession } from "../src/index.js";
import {
  ENGINES,
  ErrorCode,
  expectRefusal,
  freshNode,
  get,
  type HttpReply,
  post,
  postBody,
  session,
  type TestSession,
} from "./helpers.js";

const PARALLEL = 200;

/** Signs PARALLEL posts up front, then sends each as its own HTTP request, all at once. */
async function flood(url: string, s: TestSession): Promise<HttpReply<unknown>[]> {
  const actions = Array.from({ length: PARALLEL }, (_, i) => s.sign("post", postBody(`p${i}`)));
  return await Promise.all(actions.map((a) => post(url, "/v1/actions", a)));
}

async function stored(url: string, s: TestSession): Promise<{ posts: number; used: unknown }> {
  const profile = await get<ServedProfile>(url, `/v1/wallets/${s.wallet}/profile`);
  const sessions = await get<{ items: ServedSession[] }>(url, `/v1/wallets/${s.wallet}/sessions`);
  return { posts: profile.body.posts, used: sessions.body.items[0]?.used };
}

describe.each(ENGINES)("concurrent posts over HTTP on %s", (engine) => {
  it(`${PARALLEL} parallel posts against a cap of 50: exactly 50 stored, 150 refused 4002`, async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice", "alice-capped", {
      scopes: ["post"],
      limits: { post: { total: 50, perHour: null } },
      tipBudget: null,
    });
    const replies = await flood(url, alice);
    const accepted = replies.filter((r) => r.status === 201);
    const refused = replies.filter((r) => r.status !== 201);
    expect(accepted).toHaveLength(50);
    expect(refused).toHaveLength(150);
    for (const r of refused) expectRefusal(r, 403, ErrorCode.OVER_CAP);
    expect(await stored(url, alice)).toEqual({ posts: 50, used: { post: 50 } });
  });

  it(`${PARALLEL} parallel posts against 30 per hour: exactly 30 stored, 170 refused 4003`, async () => {
    const { url, clock } = await freshNode(engine);
    const alice = await session(url, "alice", "alice-rated", {
      scopes: ["post"],
      limits: { post: { total: null, perHour: 30 } },
      tipBudget: null,
    });
    const replies = await flood(url, alice);
    const accepted = replies.filter((r) => r.status === 201);
    const refused = replies.filter((r) => r.status !== 201);
    expect(accepted).toHaveLength(30);
    expect(refused).toHaveLength(170);
    for (const r of refused) expectRefusal(r, 429, ErrorCode.OVER_RATE);
    expect(await stored(url, alice)).toEqual({ posts: 30, used: { post: 30 } });

    // An hour later the window has room again, for 30 more and no more.
    clock.advance(3_600_000);
    const ts = clock.now();
    const next = Array.from({ length: 40 }, (_, i) =>
      alice.sign("post", postBody(`n${i}`), { ts }),
    );
    const later = await Promise.all(next.map((a) => post(url, "/v1/actions", a)));
    expect(later.filter((r) => r.status === 201)).toHaveLength(30);
    expect(await stored(url, alice)).toEqual({ posts: 60, used: { post: 60 } });
  });
});
