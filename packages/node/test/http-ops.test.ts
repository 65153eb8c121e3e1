import { describe, expect, it } from "vitest";
import { TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import {
  accept,
  ENGINES,
  ErrorCode,
  expectRefusal,
  freshNode,
  get,
  post,
  postBody,
  request,
  session,
} from "./helpers.js";

/** The routes the node must document, as OpenAPI paths (it hides /metrics and /openapi.json). */
const DOCUMENTED = {
  "/v1/grants": ["post"],
  "/v1/actions": ["post"],
  "/v1/revocations": ["post"],
  "/v1/equivocations": ["post"],
  "/v1/feed": ["get"],
  "/v1/wallets/{wallet}/following-feed": ["get"],
  "/v1/wallets/{wallet}/posts": ["get"],
  "/v1/posts/{id}": ["get"],
  "/v1/posts/{id}/thread": ["get"],
  "/v1/posts/{id}/reactions": ["get"],
  "/v1/wallets/{wallet}/profile": ["get"],
  "/v1/wallets/{wallet}/sessions": ["get"],
  "/v1/wallets/{wallet}/inbox": ["get"],
  "/v1/grants/{id}": ["get"],
  "/v1/stream": ["get"],
  "/health": ["get"],
  "/metrics": ["get"],
  "/v1/sync": ["get"],
  "/v1/peers": ["delete", "get", "post"],
  "/v1/peers/sync": ["post"],
  "/v1/chain": ["get"],
  "/v1/faucet": ["post"],
};

type Json = Record<string, unknown>;

/** Every `$ref` in `node`, with where it sits. */
function refs(node: unknown, at = "#"): [string, string][] {
  if (typeof node !== "object" || node === null) return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") out.push([at, v]);
    else out.push(...refs(v, `${at}/${k}`));
  }
  return out;
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = doc;
  for (const part of ref.slice(2).split("/")) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    node = typeof node === "object" && node !== null ? (node as Json)[key] : undefined;
  }
  return node;
}

describe.each(ENGINES)("operations over HTTP on %s", (engine) => {
  it("GET /health reports the engine and what the node verifies against", async () => {
    const { url } = await freshNode(engine);
    const reply = await get(url, "/health");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      status: "ok",
      engine,
      network: TEST_CONTEXT.network,
      chain: TEST_CONTEXT.chain,
    });
  });

  it("GET /metrics counts accepted and refused messages by kind and code, and latency", async () => {
    const { url } = await freshNode(engine);
    const alice = await session(url, "alice", "alice-s1", {
      scopes: ["post"],
      limits: { post: { total: 2, perHour: null } },
      tipBudget: null,
    });
    const first = alice.sign("post", postBody("one"));
    await accept(url, first);
    await post(url, "/v1/actions", first); // a duplicate is no new acceptance
    await accept(url, alice.sign("post", postBody("two")));
    for (const text of ["three", "four", "five"]) {
      expectRefusal(
        await post(url, "/v1/actions", alice.sign("post", postBody(text))),
        403,
        ErrorCode.OVER_CAP,
      );
    }
    expectRefusal(
      await post(url, "/v1/actions", alice.sign("follow", { target: alice.wallet })),
      403,
      ErrorCode.SCOPE_NOT_GRANTED,
    );
    expectRefusal(
      await post(url, "/v1/grants", { text: "nonsense", signature: "1111" }),
      400,
      ErrorCode.GRANT_TEXT_MALFORMED,
    );
    const grant = { text: alice.fixture.text, signature: alice.fixture.signature };
    expect((await post(url, "/v1/grants", grant)).status).toBe(200); // duplicate
    await get(url, "/v1/feed");
    // Latency is observed once a response has gone out: one more request settles the last.
    await get(url, "/health");

    const reply = await get<string>(url, "/metrics");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toMatch(/^text\/plain/);
    const lines = new Set(reply.text.split("\n"));
    for (const line of [
      "# TYPE sesame_messages_accepted_total counter",
      'sesame_messages_accepted_total{kind="grant"} 1',
      'sesame_messages_accepted_total{kind="post"} 2',
      "# TYPE sesame_messages_refused_total counter",
      'sesame_messages_refused_total{code="4002"} 3',
      'sesame_messages_refused_total{code="4001"} 1',
      'sesame_messages_refused_total{code="3001"} 1',
      "# TYPE sesame_http_request_duration_seconds histogram",
      'sesame_http_request_duration_seconds_bucket{route="/v1/actions",method="POST",le="+Inf"} 7',
      'sesame_http_request_duration_seconds_count{route="/v1/actions",method="POST"} 7',
      'sesame_http_request_duration_seconds_count{route="/v1/feed",method="GET"} 1',
    ]) {
      expect(lines, line).toContain(line);
    }
    const buckets = reply.text
      .split("\n")
      .filter((l) =>
        l.startsWith('sesame_http_request_duration_seconds_bucket{route="/v1/actions"'),
      )
      .map((l) => Number(l.split(" ")[1]));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b)); // cumulative
    expect(reply.text).toMatch(/^sesame_stream_subscribers 0$/m);
  });

  it("GET /openapi.json is an OpenAPI 3.1 document of every route, its references resolving", async () => {
    const { url } = await freshNode(engine);
    const reply = await get<Json>(url, "/openapi.json");
    expect(reply.status).toBe(200);
    const doc = reply.body;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const paths = doc.paths as Record<string, Record<string, Json>>;
    const documented = Object.fromEntries(
      Object.entries(paths).map(([p, ops]) => [p, Object.keys(ops).sort()]),
    );
    // Exactly the node's routes: none missing, none unknown. Only
    // /openapi.json itself and the web app's files are left out.
    expect(documented).toEqual(DOCUMENTED);
    expect(paths["/metrics"]?.get?.responses).toMatchObject({
      200: { content: { "text/plain": { schema: { type: "string" } } } },
    });
    for (const [path, ops] of Object.entries(paths)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.summary, where).toEqual(expect.any(String));
        expect(Object.keys(op.responses as Json).length, where).toBeGreaterThan(0);
        const params = (op.parameters ?? []) as { in: string; name: string; required?: boolean }[];
        const inPath = params.filter((p) => p.in === "path");
        expect(inPath.map((p) => p.name).sort(), where).toEqual(templated);
        expect(
          inPath.every((p) => p.required === true),
          where,
        ).toBe(true);
      }
    }
    const unresolved = refs(doc).filter(([, ref]) => resolvePointer(doc, ref) === undefined);
    expect(unresolved).toEqual([]);
    const errorBody = (doc.components as { schemas: Record<string, Json> }).schemas.ErrorBody;
    expect(errorBody?.required).toEqual(["code", "name", "message", "context"]);
  });

  it("answers an unknown route with 404 6001 and malformed JSON with 400 1001", async () => {
    const { url } = await freshNode(engine);
    expectRefusal(await get(url, "/v1/nothing-here"), 404, ErrorCode.NOT_FOUND);
    expectRefusal(await post(url, "/v2/actions", {}), 404, ErrorCode.NOT_FOUND);
    expectRefusal(await request(url, "DELETE", "/v1/feed"), 404, ErrorCode.NOT_FOUND);
    expectRefusal(
      await request(url, "POST", "/v1/actions", { raw: '{"payload": ' }),
      400,
      ErrorCode.MALFORMED_JSON,
    );
    expectRefusal(
      await request(url, "POST", "/v1/grants", { raw: "", headers: {} }),
      400,
      ErrorCode.MALFORMED_JSON,
    );
    expectRefusal(
      await request(url, "POST", "/v1/revocations", {
        raw: "text=hello",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
      400,
      ErrorCode.MALFORMED_JSON,
    );
  });

  it("refuses a body over the limit with 413 6002", async () => {
    const { url } = await freshNode(engine, { config: { bodyLimit: 4096 } });
    const alice = await session(url, "alice");
    const big = alice.sign("post", postBody("x".repeat(1000)));
    const padded = { ...big, padding: "y".repeat(5000) };
    const reply = await post(url, "/v1/actions", padded);
    expectRefusal(reply, 413, ErrorCode.PAYLOAD_TOO_LARGE);
    expect(reply.body).toMatchObject({ context: { maxBytes: 4096 } });
    await accept(url, big); // under the limit it goes through
  });

  it("limits requests per IP with 429 6003, but never /health", async () => {
    const { url } = await freshNode(engine, { config: { rateLimitPerMinute: 5 } });
    for (let i = 0; i < 5; i++) expect((await get(url, "/v1/feed")).status).toBe(200);
    const refused = await get(url, "/v1/feed");
    expectRefusal(refused, 429, ErrorCode.TOO_MANY_REQUESTS);
    expect(refused.body).toMatchObject({ context: { retryAfterMs: expect.any(Number) } });
    expectRefusal(await post(url, "/v1/actions", {}), 429, ErrorCode.TOO_MANY_REQUESTS);
    expect((await get(url, "/health")).status).toBe(200);
  });
});
