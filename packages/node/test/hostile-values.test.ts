/**
 * Hostile JSON values through every write route of a real listening node (PGlite and
 * PostgreSQL). A JSON body can hold objects whose `toString` or `valueOf` is not a
 * function (`{"toString": 1}`): `String()` of such a value throws, so an error message
 * built with it turned a refusal into a 500. Every field of every valid write message is
 * replaced in turn by such values; each answer must be a coded 4xx from the error table
 * (the version gets 1007, the kind 1006, other fields 1002 or their encoding's code) and
 * nothing stored may change.
 */
import { ErrorCode, errorName, httpStatus, isErrorCode } from "@sesame/protocol";
import { describe, expect, it } from "vitest";
import { makeGrant, testKey } from "../../protocol/scripts/fixtures.js";
import { digest } from "./digest.js";
import {
  accept,
  ENGINES,
  freshNode,
  type HttpReply,
  postBody,
  request,
  revocation,
  session,
} from "./helpers.js";

/** Objects that make `String(value)` throw, or return something the sender chose. */
const HOSTILE: readonly unknown[] = [
  { toString: 1 },
  { valueOf: 1 },
  { toString: 1, valueOf: 1 },
  { toString: {}, valueOf: [] },
  [{ toString: 1 }],
];

type Path = readonly (string | number)[];

/** Every path to a leaf (string, number, boolean, null) of a JSON value. */
function leaves(value: unknown, at: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...at, i]));
  if (typeof value === "object" && value !== null)
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]));
  return [at];
}

function replaced(value: unknown, path: Path, by: unknown): unknown {
  const copy = structuredClone(value);
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  parent[path[path.length - 1] as string | number] = by;
  return copy;
}

/** The code a hostile value at `path` must get; undefined: any coded 400. */
function expectedCode(route: string, path: Path): ErrorCode | undefined {
  const last = path[path.length - 1];
  const inPayload = path.includes("payload");
  if (route === "/v1/actions" && inPayload && last === "v") return ErrorCode.UNSUPPORTED_VERSION;
  if (route === "/v1/actions" && inPayload && last === "kind" && path.length <= 3)
    return ErrorCode.UNKNOWN_KIND;
  if (route === "/v1/grants" && last === "text") return ErrorCode.GRANT_TEXT_MALFORMED;
  if (route === "/v1/revocations" && last === "text") return ErrorCode.REVOCATION_MALFORMED;
  return undefined;
}

function expectCoded400(reply: HttpReply<unknown>, label: string): number {
  expect(reply.status, `${label}: ${reply.text}`).toBe(400);
  const body = reply.body as { code?: unknown; name?: unknown };
  expect(isErrorCode(body.code), `${label}: ${reply.text}`).toBe(true);
  const code = body.code as ErrorCode;
  expect(body.name).toBe(errorName(code));
  expect(httpStatus(code)).toBe(400);
  return code;
}

describe.each(ENGINES)("hostile JSON values on every write route on %s", (engine) => {
  it("{toString: 1} and friends in any field get a coded 400, and nothing is stored", {
    timeout: 120_000,
  }, async () => {
    const { url, node } = await freshNode(engine);
    const alice = await session(url, "alice");
    const bob = await session(url, "bob");
    const first = alice.sign("post", postBody("gm"));
    await accept(url, first);
    const carol = makeGrant("carol", "carol-session");
    const grant = { text: carol.text, signature: carol.signature };
    const action = alice.sign("post", postBody("second"));
    const a = bob.sign("post", postBody("a"), { seq: 1, ord: 1 });
    const b = bob.sign("post", postBody("b"), { seq: 1, ord: 1, ts: a.payload.ts + 1 });
    const rev = revocation(alice.walletKey, { kind: "grant", grant: alice.grantId });

    const messages: readonly [string, unknown][] = [
      ["/v1/grants", grant],
      ["/v1/actions", action],
      ["/v1/actions", { actions: [action] }],
      ["/v1/revocations", rev],
      ["/v1/equivocations", { a, b }],
      ["/v1/faucet", { wallet: testKey("dave").address }],
    ];
    const before = await digest(node.ctx.storage.db);
    const seen = new Map<number, number>();
    let cases = 0;
    for (const [route, message] of messages) {
      for (const path of leaves(message)) {
        for (const hostile of HOSTILE) {
          const body = replaced(message, path, hostile);
          const label = `${route} ${path.join(".")} = ${JSON.stringify(hostile)}`;
          const reply = await request(url, "POST", route, { body });
          cases++;
          if (route === "/v1/actions" && "actions" in (message as object)) {
            // A batch answers 200 with one result per item: the item is refused.
            expect(reply.status, `${label}: ${reply.text}`).toBe(200);
            const [item] = (reply.body as { results: { ok: boolean; error: { code: number } }[] })
              .results;
            expect(item?.ok, label).toBe(false);
            expect(httpStatus(item?.error.code as ErrorCode), label).toBe(400);
            const want = expectedCode(route, path);
            if (want !== undefined) expect(item?.error.code, label).toBe(want);
            seen.set(item?.error.code as number, (seen.get(item?.error.code as number) ?? 0) + 1);
            continue;
          }
          const code = expectCoded400(reply, label);
          const want = expectedCode(route, path);
          if (want !== undefined) expect(code, label).toBe(want);
          seen.set(code, (seen.get(code) ?? 0) + 1);
        }
      }
    }
    // Prototype keys are refused by the JSON parser itself.
    for (const raw of [
      '{"__proto__": {"toString": 1}, "payload": {}}',
      '{"constructor": {"prototype": {"toString": 1}}}',
    ]) {
      const reply = await request(url, "POST", "/v1/actions", { raw });
      expect(expectCoded400(reply, raw)).toBe(ErrorCode.MALFORMED_JSON);
      cases++;
    }

    expect(cases).toBeGreaterThan(150);
    // The kind and version of an action got their own codes, the rest a field's code.
    expect(seen.get(ErrorCode.UNKNOWN_KIND)).toBeGreaterThan(0);
    expect(seen.get(ErrorCode.UNSUPPORTED_VERSION)).toBeGreaterThan(0);
    expect(seen.get(ErrorCode.INVALID_FIELD)).toBeGreaterThan(0);
    expect(await digest(node.ctx.storage.db)).toEqual(before);
    // The node still works: the untouched action is accepted afterwards.
    await accept(url, action);

    // Hostile keys beside valid fields: never a 5xx (the grant route ignores fields it
    // does not know, as does the revocation route; the others refuse unknown fields).
    for (const [route, message] of messages) {
      const withKeys = { ...(message as object), toString: 1, valueOf: { toString: 1 } };
      const reply = await request(url, "POST", route, { body: withKeys });
      const label = `${route} with toString and valueOf keys: ${reply.text}`;
      expect(reply.status, label).toBeLessThan(500);
      if (reply.status >= 400)
        expect(isErrorCode((reply.body as { code?: unknown }).code), label).toBe(true);
    }
  });
});
