/**
 * The operator's federation routes: `POST /v1/peers` and `DELETE /v1/peers` (peers added
 * at run time, kept across restarts) and `POST /v1/peers/sync`, answered only on the
 * node's own host. In-process nodes over real HTTP; other hosts through fastify's inject
 * with a `remoteAddress`.
 */
import { once } from "node:events";
import { createServer } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import {
  createNode,
  type DatabaseOptions,
  type PeerStatus,
  type SesameNode,
} from "../src/index.js";
import {
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  freshNode,
  get,
  NOW,
  post,
  postBody,
  request,
  session,
  testDatabase,
} from "./helpers.js";

interface PeersReply {
  intervalMs: number | null;
  peers: PeerStatus[];
}

/** A node on `database` that pulls only when asked (a long interval, no nudges). */
async function quietNode(
  database: DatabaseOptions,
  peers: string[] = [],
): Promise<{ url: string; node: SesameNode }> {
  const node = await createNode({
    database,
    config: { verify: TEST_CONTEXT },
    clock: () => NOW,
    peers,
    sync: { intervalMs: 3_600_000, nudge: false, log: () => {} },
  });
  const url = await node.app.listen({ port: 0, host: "127.0.0.1" });
  return { url, node };
}

/** A loopback port free a moment ago (the node then listens on it). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

const send = (url: string, method: "POST" | "DELETE", path: string, body: unknown) =>
  request<PeersReply>(url, method, path, { body });

describe.each(ENGINES)("operator federation routes on %s", (engine) => {
  it("POST /v1/peers/sync, POST and DELETE /v1/peers answer only the node's own host (6005 otherwise)", async () => {
    const source = await freshNode(engine);
    const database = await testDatabase(engine);
    const { url, node } = await quietNode(await database.open(), [source.url]);
    onTestFinished(async () => {
      await node.close();
      await database.cleanup();
    });
    // After the first round (at start) and one asked for from here, it pulls only when asked.
    const before = await post<PeersReply>(url, "/v1/peers/sync", {});
    expect(before.status).toBe(200);
    for (const remoteAddress of ["10.1.2.3", "::ffff:192.168.1.9", "2001:db8::1"]) {
      for (const [method, path, payload] of [
        ["POST", "/v1/peers/sync", {}],
        ["POST", "/v1/peers", { url: "http://127.0.0.1:9" }],
        ["DELETE", "/v1/peers", { url: source.url }],
      ] as const) {
        const r = await node.app.inject({ method, url: path, payload, remoteAddress });
        expect(r.statusCode, `${method} ${path} from ${remoteAddress}`).toBe(401);
        expect(JSON.parse(r.body)).toMatchObject({
          code: ErrorCode.UNAUTHORIZED_REQUEST,
          name: "UNAUTHORIZED_REQUEST",
        });
      }
    }
    // Nothing changed: the same peer, no round started by a stranger.
    const after = await get<PeersReply>(url, "/v1/peers");
    expect(after.body.peers.map((p) => [p.url, p.rounds])).toEqual(
      before.body.peers.map((p) => [p.url, p.rounds]),
    );
    // The node's own host (inject's default address, and real loopback HTTP) is answered.
    const local = await node.app.inject({ method: "POST", url: "/v1/peers/sync", payload: {} });
    expect(local.statusCode).toBe(200);
    const loopback = await post<PeersReply>(url, "/v1/peers/sync", {});
    expect(loopback.status).toBe(200);
    expect(loopback.body.peers[0]?.rounds).toBe((before.body.peers[0]?.rounds ?? 0) + 2);
  });

  it("a peer added at run time is pulled, listed, kept across a restart, and removed; configured and unknown peers cannot be removed", async () => {
    const source = await freshNode(engine);
    const alice = await session(source.url, "alice-peer-add");
    const posted = [];
    for (let i = 0; i < 3; i++)
      posted.push(await accept(source.url, alice.sign("post", postBody(`p${i}`))));
    const configured = await freshNode(engine);

    const database = await testDatabase(engine, { persistent: true });
    let n = await quietNode(await database.open(), [configured.url]);
    onTestFinished(async () => {
      await n.node.close();
      await database.cleanup();
    });
    const added = await send(n.url, "POST", "/v1/peers", { url: `${source.url}/` });
    expect(added.status, added.text).toBe(201);
    const listed = Object.fromEntries(added.body.peers.map((p) => [p.url, p.configured]));
    expect(listed).toEqual({ [configured.url]: true, [source.url]: false });
    // Adding it again changes nothing.
    const again = await send(n.url, "POST", "/v1/peers", { url: source.url });
    expect(again.status).toBe(200);
    expect(again.body.peers).toHaveLength(2);
    await post(n.url, "/v1/peers/sync", {});
    for (const p of posted) expect((await get(n.url, `/v1/posts/${p.id}`)).status).toBe(200);

    // Restarted with only the configured peer: the added one is still pulled.
    await n.node.close();
    n = await quietNode(await database.open(), [configured.url]);
    const reopened = await get<PeersReply>(n.url, "/v1/peers");
    const kept = reopened.body.peers.find((p) => p.url === source.url);
    expect(kept).toMatchObject({ configured: false, accepted: 4 });
    const later = await accept(source.url, alice.sign("post", postBody("after the restart")));
    await post(n.url, "/v1/peers/sync", {});
    expect((await get(n.url, `/v1/posts/${later.id}`)).status).toBe(200);

    // A configured peer cannot be removed here; an unknown one is not found; a bad URL is 1002.
    expectRefusal(
      await send(n.url, "DELETE", "/v1/peers", { url: configured.url }),
      400,
      ErrorCode.INVALID_FIELD,
    );
    expectRefusal(
      await send(n.url, "DELETE", "/v1/peers", { url: "http://127.0.0.1:9" }),
      404,
      ErrorCode.NOT_FOUND,
    );
    expectRefusal(
      await send(n.url, "POST", "/v1/peers", { url: "ftp://127.0.0.1:9" }),
      400,
      ErrorCode.INVALID_FIELD,
    );
    expectRefusal(await send(n.url, "POST", "/v1/peers", {}), 400, ErrorCode.INVALID_FIELD);

    const removed = await send(n.url, "DELETE", "/v1/peers", { url: source.url });
    expect(removed.status, removed.text).toBe(200);
    expect(removed.body.peers.map((p) => p.url)).toEqual([configured.url]);
    // Removed for good: not pulled any more, and not after a restart either.
    const unseen = await accept(source.url, alice.sign("post", postBody("after removal")));
    await post(n.url, "/v1/peers/sync", {});
    expect((await get(n.url, `/v1/posts/${unseen.id}`)).status).toBe(404);
    await n.node.close();
    n = await quietNode(await database.open(), [configured.url]);
    expect((await get<PeersReply>(n.url, "/v1/peers")).body.peers.map((p) => p.url)).toEqual([
      configured.url,
    ]);
    expectRefusal(
      await send(n.url, "DELETE", "/v1/peers", { url: source.url }),
      404,
      ErrorCode.NOT_FOUND,
    );
  });

  it("a node does not pull itself: its own URL (or another name for it) configured is dropped, and cannot be added", async () => {
    const source = await freshNode(engine);
    const alice = await session(source.url, "alice-self");
    const database = await testDatabase(engine);
    const port = await freePort();
    const own = `http://127.0.0.1:${port}`;
    const alias = `http://localhost:${port}`;
    const lines: string[] = [];
    const node = await createNode({
      database: await database.open(),
      config: { verify: TEST_CONTEXT },
      clock: () => NOW,
      // A peer list shared by every node of a network holds each node's own URL.
      peers: [source.url, own, alias],
      sync: { intervalMs: 3_600_000, nudge: false, log: (l) => lines.push(l) },
    });
    onTestFinished(async () => {
      await node.close();
      await database.cleanup();
    });
    const url = await node.app.listen({ port, host: "127.0.0.1" });
    expect(url).toBe(own);
    const synced = await send(url, "POST", "/v1/peers/sync", {});
    expect(synced.status, synced.text).toBe(200);
    // The two names of the node itself are dropped; the real peer is pulled.
    expect(synced.body.peers.map((p) => p.url)).toEqual([source.url]);
    expect(lines.filter((l) => l.includes("this is the node itself")).sort()).toEqual(
      [own, alias].map((u) => expect.stringContaining(`sync ${u}:`)).sort(),
    );
    expect((await get(url, `/v1/grants/${alice.grantId}`)).status).toBe(200);
    // Nor can it be added at run time, under either name; the list is unchanged.
    for (const self of [own, `${alias}/`])
      expectRefusal(
        await send(url, "POST", "/v1/peers", { url: self }),
        400,
        ErrorCode.INVALID_FIELD,
      );
    const listed = await get<PeersReply>(url, "/v1/peers");
    expect(listed.body.peers.map((p) => p.url)).toEqual([source.url]);
    // A second round asked for answers (no loop left waiting on a dropped peer).
    expect((await send(url, "POST", "/v1/peers/sync", {})).status).toBe(200);
    // Another name for a peer pulled already is dropped too, once it answers as that peer.
    const twice = source.url.replace("127.0.0.1", "localhost");
    expect((await send(url, "POST", "/v1/peers", { url: twice })).status).toBe(201);
    const dropped = await send(url, "POST", "/v1/peers/sync", {});
    expect(dropped.body.peers.map((p) => p.url)).toEqual([source.url]);
    expect(lines).toContainEqual(
      `sync ${twice}: the same node as ${source.url}, pulled already: not pulled twice`,
    );
  });
});
