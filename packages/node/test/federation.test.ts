/**
 * Federation with separate node processes, each on its own database (a PGlite data
 * directory, or a PostgreSQL schema), peered over loopback through links the test can cut.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeGrant, T0 } from "../../protocol/scripts/fixtures.js";
import type { DatabaseOptions, Engine } from "../src/index.js";
import {
  buildNodePackage,
  converged,
  Link,
  messageSet,
  type NodeProcess,
  peersOf,
  spawnNode,
  stopNode,
  syncNow,
  waitFor,
} from "./federation-helpers.js";
import {
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  followBody,
  get,
  post,
  postBody,
  profileBody,
  reactBody,
  revocation,
  session,
  type TestDatabase,
  type TestSession,
  testDatabase,
} from "./helpers.js";

/** A database a node process can open by itself (and reopen after a restart). */
async function processDatabase(
  engine: Engine,
): Promise<{ db: TestDatabase; options: DatabaseOptions }> {
  const db = await testDatabase(engine, { persistent: true });
  const first = await db.open();
  if (first.pglite === undefined) return { db, options: first };
  // Made from the migrated template in this process; the node process reopens the directory.
  await first.pglite.close();
  return { db, options: await db.open() };
}

const NAMES = ["a", "b", "c"] as const;
type Name = (typeof NAMES)[number];

interface SessionView {
  readonly grant: string;
  readonly status: string;
  readonly revokedBy: string | null;
  readonly used: Readonly<Record<string, number>>;
}

async function sessionOn(url: string, s: TestSession): Promise<SessionView | undefined> {
  const r = await get<{ items: SessionView[] }>(url, `/v1/wallets/${s.wallet}/sessions`);
  return r.body.items.find((i) => i.grant === s.grantId);
}

/** Pull rounds `url` has completed for its peer `peer` (a link URL). */
async function roundsOf(url: string, peer: string): Promise<number> {
  const p = (await peersOf(url)).find((q) => q.url === peer);
  if (p === undefined) throw new Error(`${url} does not pull ${peer}`);
  return p.rounds;
}

/** A grant with a post cap of 5 and no rate: the cap is all that bounds the session. */
const CAP_5 = { scopes: ["post"], limits: { post: { total: 5, perHour: null } }, tipBudget: null };

describe.each(ENGINES)("three federated node processes on %s", (engine) => {
  const links = new Map<string, Link>();
  const dbs = new Map<Name, { db: TestDatabase; options: DatabaseOptions }>();
  const nodes = new Map<Name, NodeProcess>();
  const link = (from: Name, to: Name) => links.get(`${from}>${to}`) as Link;
  const url = (n: Name) => {
    const p = nodes.get(n);
    if (p === undefined) throw new Error(`node ${n} did not start`);
    return p.url;
  };
  const urls = () => NAMES.map(url);
  const peersFor = (n: Name) => NAMES.filter((m) => m !== n).map((m) => link(n, m).url);
  const start = async (n: Name) => {
    const p = await spawnNode((dbs.get(n) as { options: DatabaseOptions }).options, peersFor(n));
    nodes.set(n, p);
    for (const m of NAMES) if (m !== n) link(m, n).target(p.url);
  };

  beforeAll(async () => {
    await buildNodePackage();
    for (const from of NAMES)
      for (const to of NAMES) if (from !== to) links.set(`${from}>${to}`, await Link.open());
    for (const n of NAMES) dbs.set(n, await processDatabase(engine));
    await Promise.all(NAMES.map(start));
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...nodes.values()].map(stopNode));
    await Promise.all([...links.values()].map((l) => l.close()));
    await Promise.all([...dbs.values()].map((d) => d.db.cleanup()));
  });

  it("converge to identical sets after writes on all three (same hash over sorted ids)", async () => {
    const written: string[] = [];
    await Promise.all(
      NAMES.map(async (n, i) => {
        const s = await session(url(n), `writer-${n}`);
        written.push(`grant:${s.grantId}`);
        const profile = await accept(url(n), s.sign("profile", profileBody(`Writer ${n}`)));
        written.push(`action:${profile.id}`);
        for (let k = 0; k < 6; k++) {
          const p = await accept(url(n), s.sign("post", postBody(`post ${k} on ${n}`)));
          written.push(`action:${p.id}`);
          const r = await accept(url(n), s.sign("react", reactBody(p.id)));
          written.push(`action:${r.id}`);
        }
        const other = makeGrant(`writer-${NAMES[(i + 1) % 3]}`).wallet.address;
        const f = await accept(url(n), s.sign("follow", followBody(other)));
        written.push(`action:${f.id}`);
      }),
    );
    const set = await converged(urls());
    expect(set.ids).toEqual(expect.arrayContaining(written));
    expect(written).toHaveLength(3 * 15);
    // Nothing twice: every node's log holds each message once.
    for (const u of urls()) expect((await messageSet(u)).n).toBe(set.ids.length);
    // What a node learned from peers is served like its own.
    const onC = await get<{ displayName: string }>(
      url("c"),
      `/v1/wallets/${makeGrant("writer-a").wallet.address}/profile`,
    );
    expect(onC.body.displayName).toBe("Writer a");
    const status = await peersOf(url("a"));
    expect(status.map((p) => p.url).sort()).toEqual(peersFor("a").sort());
    for (const p of status) {
      expect(p.accepted).toBeGreaterThan(0);
      expect(p.refused).toBe(0);
    }
  }, 120_000);

  it("carry a revocation and a revoke-all to nodes they were not sent to", async () => {
    const dave = await session(url("a"), "dave-fed");
    await accept(url("a"), dave.sign("post", postBody("before the revocation")));
    await waitFor("the grant on c", async () =>
      (await sessionOn(url("c"), dave)) ? true : undefined,
    );
    const sentAt = Date.now();
    const reply = await post(
      url("a"),
      "/v1/revocations",
      revocation(dave.walletKey, { kind: "grant", grant: dave.grantId }),
    );
    expect(reply.status).toBe(200);
    // The revocation is committed on a: a round of b or c that starts from now on sees it.
    // The one in progress may have read a's log before; the one after cannot have.
    const fromA = { b: link("b", "a").url, c: link("c", "a").url };
    const r0 = { b: await roundsOf(url("b"), fromA.b), c: await roundsOf(url("c"), fromA.c) };
    const [elapsed] = await Promise.all([
      // How long it took, printed (not asserted: machines are noisy).
      waitFor("c to refuse the session", async () =>
        (await sessionOn(url("c"), dave))?.status === "revoked" ? Date.now() - sentAt : undefined,
      ),
      waitFor("two more rounds of b and c pulling a", async () =>
        (await roundsOf(url("b"), fromA.b)) >= r0.b + 2 &&
        (await roundsOf(url("c"), fromA.c)) >= r0.c + 2
          ? true
          : undefined,
      ),
    ]);
    console.log(`[${engine}] revocation posted to a, refused on c after ${elapsed} ms`);
    // Within two pull rounds of a, both b and c refuse the session (b is probed only now:
    // an action b accepted before it learned of the revocation would stay on b alone, the
    // order rule of PROTOCOL.md §13.4).
    for (const n of ["b", "c"] as const) {
      expect((await sessionOn(url(n), dave))?.status).toBe("revoked");
      expectRefusal(
        await post(url(n), "/v1/actions", dave.sign("post", postBody(`after, on ${n}`))),
        403,
        ErrorCode.SESSION_REVOKED,
      );
    }
    // Revoke-all sent to c ends both of erin's sessions everywhere.
    const erin1 = await session(url("b"), "erin-fed", "erin-fed-1");
    const erin2 = await session(url("c"), "erin-fed", "erin-fed-2");
    await waitFor("both grants on a", async () =>
      (await sessionOn(url("a"), erin1)) && (await sessionOn(url("a"), erin2)) ? true : undefined,
    );
    const allAt = Date.now();
    const all = await post(
      url("c"),
      "/v1/revocations",
      revocation(erin1.walletKey, { kind: "all", issuedBefore: T0 + 1 }),
    );
    expect(all.status, all.text).toBe(200);
    const fromC = link("a", "c").url;
    const r1 = await roundsOf(url("a"), fromC);
    const [allElapsed] = await Promise.all([
      waitFor("a to refuse erin", async () =>
        (await Promise.all([erin1, erin2].map((s) => sessionOn(url("a"), s)))).every(
          (v) => v?.status === "revoked",
        )
          ? Date.now() - allAt
          : undefined,
      ),
      waitFor("two more rounds of a pulling c", async () =>
        (await roundsOf(url("a"), fromC)) >= r1 + 2 ? true : undefined,
      ),
    ]);
    console.log(
      `[${engine}] revoke-all posted to c, both sessions refused on a after ${allElapsed} ms`,
    );
    for (const s of [erin1, erin2]) {
      expect((await sessionOn(url("a"), s))?.status).toBe("revoked");
      expectRefusal(
        await post(url("a"), "/v1/actions", s.sign("post", postBody("after revoke-all"))),
        403,
        ErrorCode.SESSION_REVOKED,
      );
    }
    const metrics = (await get<string>(url("a"), "/metrics")).text;
    const line = metrics
      .split("\n")
      .find((l) => l.startsWith(`sesame_sync_rounds_total{peer="${fromC}"}`));
    expect(Number(line?.split(" ").at(-1))).toBeGreaterThanOrEqual(r1 + 2);
    await converged(urls());
  }, 120_000);

  it("partition: cut c off, write on both sides, stop and restart c, converge with nothing lost or twice", async () => {
    const written: string[] = [];
    const cLinks = [link("a", "c"), link("b", "c"), link("c", "a"), link("c", "b")];
    for (const l of cLinks) l.cut();
    // c's side of the partition.
    const frank = await session(url("c"), "frank-fed");
    written.push(`grant:${frank.grantId}`);
    for (let k = 0; k < 4; k++)
      written.push(`action:${(await accept(url("c"), frank.sign("post", postBody(`c ${k}`)))).id}`);
    // a and b's side.
    const gina = await session(url("a"), "gina-fed");
    written.push(`grant:${gina.grantId}`);
    await waitFor("gina's grant on b", async () =>
      (await sessionOn(url("b"), gina)) ? true : undefined,
    );
    for (let k = 0; k < 4; k++) {
      const n = k % 2 === 0 ? "a" : "b";
      written.push(`action:${(await accept(url(n), gina.sign("post", postBody(`ab ${k}`)))).id}`);
    }
    const before = await peersOf(url("c"));
    const heldBefore = (await messageSet(url("c"))).n;
    await stopNode(nodes.get("c"));
    // More on a and b while c is down.
    for (let k = 4; k < 8; k++) {
      const n = k % 2 === 0 ? "a" : "b";
      written.push(`action:${(await accept(url(n), gina.sign("post", postBody(`ab ${k}`)))).id}`);
    }
    await start("c");
    // The cursors survived the restart.
    const after = await peersOf(url("c"));
    for (const p of before)
      expect(after.find((q) => q.url === p.url)?.cursor).toBeGreaterThanOrEqual(p.cursor);
    for (const l of cLinks) l.heal();
    await Promise.all(urls().map(syncNow));
    const set = await converged(urls());
    expect(set.ids).toEqual(expect.arrayContaining(written));
    for (const u of urls()) expect((await messageSet(u)).n).toBe(set.ids.length);
    // The cursors were durable: after the restart c pulled what was new (and some echoes),
    // not every peer's whole log again.
    const final = await peersOf(url("c"));
    for (const p of before) {
      const pulled = (final.find((q) => q.url === p.url)?.pulled ?? 0) - p.pulled;
      expect(pulled).toBeLessThan(heldBefore / 2);
    }
  }, 180_000);

  it("catch an equivocation across nodes: every node keeps the proof and revokes the session", async () => {
    const hana = await session(url("a"), "hana-fed");
    await waitFor("hana's grant everywhere", async () =>
      (await Promise.all(urls().map((u) => sessionOn(u, hana)))).every((s) => s !== undefined)
        ? true
        : undefined,
    );
    for (const l of links.values()) l.cut();
    // The same sequence number and ordinal, different content, to two nodes.
    const x = await accept(url("a"), hana.sign("post", postBody("x"), { seq: 1, ord: 1 }));
    const y = await accept(url("b"), hana.sign("post", postBody("not x"), { seq: 1, ord: 1 }));
    for (const l of links.values()) l.heal();
    await Promise.all(urls().map(syncNow));
    const proofId = [x.id, y.id].sort().join(":");
    for (const u of urls()) {
      await waitFor(`the proof on ${u}`, async () =>
        (await messageSet(u)).ids.includes(`equivocation:${proofId}`) ? true : undefined,
      );
      await waitFor(`the session revoked on ${u}`, async () =>
        (await sessionOn(u, hana))?.revokedBy === "equivocation" ? true : undefined,
      );
      expectRefusal(
        await post(u, "/v1/actions", hana.sign("post", postBody("after the proof"))),
        403,
        ErrorCode.SESSION_REVOKED,
      );
    }
    for (const n of NAMES) {
      const refused = (await peersOf(url(n))).map((p) => p.refusedByCode);
      // An equivocation is the client's fault, not a peer's: nothing else was refused (a
      // peer was unreachable during the partition above).
      const expected = [
        ErrorCode.EQUIVOCATION,
        ErrorCode.SESSION_REVOKED,
        ErrorCode.PEER_UNREACHABLE,
      ].map(String);
      for (const r of refused) for (const code of Object.keys(r)) expect(expected).toContain(code);
    }
  }, 120_000);

  // Last: an equivocation leaves the nodes differing by the two forks, for good.
  it("hold a post cap of 5 across the network: synced or partitioned, a 6th post is refused everywhere; a reused ordinal revokes everywhere", async () => {
    const everywhere = (s: TestSession) =>
      waitFor("the grant on every node", async () =>
        (await Promise.all(urls().map((u) => sessionOn(u, s)))).every((v) => v !== undefined)
          ? true
          : undefined,
      );
    const holds = (u: string, ids: readonly string[]) =>
      waitFor(`${ids.length} actions on ${u}`, async () => {
        const set = new Set((await messageSet(u)).ids);
        return ids.every((id) => set.has(`action:${id}`)) ? true : undefined;
      });
    const revokedEverywhere = async (s: TestSession, conflicting: string) => {
      for (const u of urls()) {
        await waitFor(`the proof on ${u}`, async () =>
          (await messageSet(u)).ids.some(
            (id) => id.startsWith("equivocation:") && id.includes(conflicting),
          )
            ? true
            : undefined,
        );
        await waitFor(`the session revoked on ${u}`, async () =>
          (await sessionOn(u, s))?.revokedBy === "equivocation" ? true : undefined,
        );
        expectRefusal(
          await post(u, "/v1/actions", s.sign("post", postBody("after the proof"))),
          403,
          ErrorCode.SESSION_REVOKED,
        );
      }
    };

    const equivocationsRefused = async () =>
      (await Promise.all(urls().map(peersOf)))
        .flat()
        .reduce((n, p) => n + (p.refusedByCode[String(ErrorCode.EQUIVOCATION)] ?? 0), 0);

    // Synced: ordinals 1-5 sent to a, b, c, a, b; after sync every node holds all five.
    const kim = await session(url("a"), "kim-cap", "kim-cap-1", CAP_5);
    await everywhere(kim);
    const kimIds: string[] = [];
    for (let k = 0; k < 5; k++) {
      const n = NAMES[k % 3] as Name;
      kimIds.push((await accept(url(n), kim.sign("post", postBody(`kim ${k + 1} on ${n}`)))).id);
    }
    for (const u of urls()) await holds(u, kimIds);
    const kimSixth = kim.sign("post", postBody("kim 6"));
    expect(kimSixth.payload.ord).toBe(6);
    for (const u of urls()) {
      expect((await sessionOn(u, kim))?.used).toEqual({ post: 5 });
      expectRefusal(await post(u, "/v1/actions", kimSixth), 403, ErrorCode.OVER_CAP);
    }
    // Ordinal 2 (accepted on b) again with other words, sent to c, which holds it by sync:
    // an equivocation at once; c keeps the proof, and it travels to a and b.
    const reused = await post<{ context: { existing: string; conflicting: string } }>(
      url("c"),
      "/v1/actions",
      kim.sign("post", postBody("kim 2, other words"), { ord: 2 }),
    );
    expectRefusal(reused, 409, ErrorCode.EQUIVOCATION);
    expect(reused.body.context.existing).toBe(kimIds[1]);
    await revokedEverywhere(kim, reused.body.context.conflicting);

    // Partitioned: c is stopped while ordinals 1-5 go to a and b.
    const lou = await session(url("a"), "lou-cap", "lou-cap-1", CAP_5);
    await everywhere(lou);
    await stopNode(nodes.get("c"));
    const louIds: string[] = [];
    for (let k = 0; k < 5; k++) {
      const n = k % 2 === 0 ? "a" : "b";
      louIds.push((await accept(url(n), lou.sign("post", postBody(`lou ${k + 1} on ${n}`)))).id);
    }
    await holds(url("a"), louIds);
    await holds(url("b"), louIds);
    const louSixth = lou.sign("post", postBody("lou 6"));
    for (const n of ["a", "b"] as const)
      expectRefusal(await post(url(n), "/v1/actions", louSixth), 403, ErrorCode.OVER_CAP);
    // c restarts still cut off: it holds none of the five, and still refuses a 6th.
    const cLinks = [link("a", "c"), link("b", "c"), link("c", "a"), link("c", "b")];
    for (const l of cLinks) l.cut();
    await start("c");
    expect((await sessionOn(url("c"), lou))?.used ?? {}).toEqual({});
    expectRefusal(await post(url("c"), "/v1/actions", louSixth), 403, ErrorCode.OVER_CAP);
    // What a partition allows before sync (PROTOCOL.md §13.8): an ordinal the other side
    // used is free here, so c accepts ordinal 3 with other words...
    const fork = await accept(
      url("c"),
      lou.sign("post", postBody("lou 3, other words, behind the partition"), { ord: 3 }),
    );
    const refusedBefore = await equivocationsRefused();
    for (const l of cLinks) l.heal();
    await Promise.all(urls().map(syncNow));
    // ...until the sides sync: the collision is a proof, and the session ends everywhere.
    await revokedEverywhere(lou, fork.id);
    for (const u of [url("a"), url("b")])
      expect((await messageSet(u)).ids).not.toContain(`action:${fork.id}`);
    // The pulled copy that collided was refused as an equivocation, and counted.
    expect(await equivocationsRefused()).toBeGreaterThan(refusedBefore);
  }, 180_000);
});

describe.each(ENGINES)("a malicious peer, against a node on %s", (engine) => {
  let honest: NodeProcess | undefined;
  let server: Server | undefined;
  let database: { db: TestDatabase; options: DatabaseOptions } | undefined;
  const pages = new Map<string, string>();

  beforeAll(async () => {
    await buildNodePackage();
    server = createServer((req, res) => {
      const u = new URL(req.url ?? "/", "http://x");
      if (u.pathname !== "/v1/sync") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(pages.get(u.searchParams.get("after") ?? "0") ?? '{"items":[],"next":"9","head":9}');
    });
    server.listen(0, "127.0.0.1");
    await new Promise((r) => server?.once("listening", r));
    database = await processDatabase(engine);
  }, 180_000);

  afterAll(async () => {
    await stopNode(honest);
    server?.close();
    await database?.db.cleanup();
  });

  it("gets nothing stored: forged, tampered, out-of-window and garbage are refused and counted, replays are duplicates, and it is backed off", async () => {
    const port = ((server as Server).address() as { port: number }).port;
    const evil = `http://127.0.0.1:${port}`;
    // The honest node first runs without the peer, to hold a session and one action.
    const opts = (database as { options: DatabaseOptions }).options;
    honest = await spawnNode(opts, []);
    const ivy = await session(honest.url, "ivy-evil");
    const stored = await accept(honest.url, ivy.sign("post", postBody("genuine")));
    const storedAction = ivy.sign("post", postBody("genuine"), { seq: 1, ord: 1 });
    const before = await messageSet(honest.url);
    await stopNode(honest);

    const forgedGrant = makeGrant("mallory", "mallory-s");
    const otherGrant = makeGrant("trent", "trent-s");
    const tampered = ivy.sign("post", postBody("what ivy said"));
    const tamperedWire = {
      payload: {
        ...tampered.payload,
        body: { ...tampered.payload.body, text: "what mallory says" },
      },
      signature: tampered.signature,
    };
    const early = ivy.sign("post", postBody("before the window"), { ts: T0 - 60_000 });
    const forgedRevocation = revocation(otherGrant.wallet, { kind: "grant", grant: ivy.grantId });
    const items = [
      { type: "grant", message: { text: forgedGrant.text, signature: otherGrant.signature } },
      { type: "action", message: tamperedWire },
      { type: "action", message: early },
      { type: "action", message: storedAction },
      {
        type: "revocation",
        message: {
          ...forgedRevocation,
          text: forgedRevocation.text.replace(otherGrant.wallet.address, ivy.wallet),
        },
      },
      { type: "equivocation", message: { a: storedAction, b: tamperedWire } },
    ].map((m, i) => ({ logId: i + 1, id: `forged-${i}`, ...m }));
    pages.set("0", JSON.stringify({ items, next: String(items.length), head: items.length + 1 }));
    pages.set(String(items.length), "<html>this is not a sync page</html>");

    honest = await spawnNode(opts, [evil], { SESAME_SYNC_MAX_BACKOFF_MS: "60000" });
    const url = honest.url;
    const status = await waitFor("the refusals to be counted", async () => {
      const [p] = await peersOf(url);
      return p !== undefined && p.cursor === items.length && p.failures >= 3 ? p : undefined;
    });
    const after = await messageSet(url);
    // Nothing of the peer's was stored: the node's set is what it held before.
    expect(after.ids).toEqual(before.ids);
    expect(after.ids).toContain(`action:${stored.id}`);
    expect(
      after.ids.some((id) => id.startsWith("revocation:") || id.startsWith("equivocation:")),
    ).toBe(false);
    expect(after.ids.filter((id) => id.startsWith("grant:"))).toEqual([`grant:${ivy.grantId}`]);
    expect(status.duplicates).toBe(1);
    expect(status.accepted).toBe(0);
    expect(status.refusedByCode[String(ErrorCode.BAD_SIGNATURE)]).toBeGreaterThanOrEqual(2);
    expect(status.refusedByCode[String(ErrorCode.OUTSIDE_WINDOW)]).toBe(1);
    expect(status.refusedByCode[String(ErrorCode.PEER_RESPONSE_INVALID)]).toBeGreaterThanOrEqual(1);
    expect(status.refused).toBe(5);
    // Backed off: each failed round doubles the wait (interval 500 ms × 2^failures).
    expect(status.backoffUntil - (status.lastPullAt as number)).toBe(500 * 2 ** status.failures);
    expect(status.lastError).toMatch(/^8002 /);
    const metrics = (await get<string>(url, "/metrics")).text;
    expect(metrics).toContain(`sesame_sync_refused_total{peer="${evil}",code="2001"}`);
    expect(metrics).toContain(`sesame_sync_backoffs_total{peer="${evil}"}`);
    expect((honest as NodeProcess).stderr()).toMatch(/refused \[.*2001×/);
    // The session it tried to end is alive.
    await accept(url, ivy.sign("post", postBody("still here")));
  }, 120_000);
});
