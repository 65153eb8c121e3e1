/**
 * The HTTP API as a fuzz target: random and mutated bodies (and signed-request headers)
 * sent to a real listening node. A case passes when the node answers below 500, with a
 * 2xx or an error body carrying a code from the table. At the end every stored grant,
 * action, revocation and equivocation is checked: it verifies again, and it is one of
 * the messages that were validly signed to begin with.
 */

import { isDeepStrictEqual } from "node:util";
import {
  type ActionPayload,
  actionIdOf,
  ERROR_TABLE,
  type GrantId,
  type restoreVerifiedGrant,
  type Signature,
  type SignedAction,
  verifyAction,
  verifyEquivocation,
  verifyGrant,
  verifyRevocation,
} from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import fc from "fast-check";
import {
  makeGrant,
  signAction,
  signRequest,
  signRevocation,
  TEST_CONTEXT,
  testNonce,
} from "../../protocol/scripts/fixtures.js";
import {
  FUZZ_NOW,
  type FuzzTarget,
  mutatedJson,
  mutatedText,
  type Outcome,
  validActions,
  weird,
} from "../../protocol/scripts/fuzz.js";
import type { SesameNode } from "../src/index.js";

interface Case {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

const backend = nodeEd25519();

/** Registers the corpus' grants on the node and returns the HTTP target. */
export async function httpTarget(node: SesameNode, url: string): Promise<FuzzTarget<unknown>> {
  const alice = makeGrant("alice", "alice-http-fuzz");
  const bob = makeGrant("bob", "bob-http-fuzz");
  const grants = [alice, bob].map((f) => ({ text: f.text, signature: f.signature }));
  const ids: GrantId[] = [];
  for (const g of grants) {
    const res = await fetch(`${url}/v1/grants`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(g),
    });
    if (res.status !== 201) throw new Error(`grant refused: ${await res.text()}`);
    ids.push(((await res.json()) as { id: GrantId }).id);
  }
  const [aliceId, bobId] = ids as [GrantId, GrantId];
  const actions = await validActions(alice, aliceId);
  // Batches of valid actions, and bob's equivocation (it may revoke bob, never alice).
  const bobA = signAction(bob.session, {
    v: 1,
    kind: "post",
    grant: bobId,
    seq: 1,
    ord: 1,
    ts: FUZZ_NOW,
    body: { text: "a", links: [], mentions: [] },
  } as ActionPayload);
  const bobB = signAction(bob.session, { ...bobA.payload, ts: FUZZ_NOW + 1 } as ActionPayload);
  const revocations = [
    signRevocation(bob.wallet, {
      version: 1,
      wallet: bob.grant.wallet,
      network: TEST_CONTEXT.network,
      target: { kind: "grant", grant: bobId },
      compromisedSince: null,
      issuedAt: FUZZ_NOW,
      nonce: testNonce("http fuzz revocation"),
    }),
  ];
  const inbox = `/v1/wallets/${alice.grant.wallet}/inbox`;
  const requests = [
    signRequest(alice.session, { v: 1, grant: aliceId, method: "GET", path: inbox, ts: FUZZ_NOW }),
  ];
  const signedIds = new Set<string>([...actions, bobA, bobB].map((a) => actionIdOf(a.payload)));

  const post = (path: string) => (body: string) => ({ method: "POST", path, body }) as Case;
  const b64 = (s: string) => Buffer.from(s).toString("base64url");
  const arbitrary = fc.oneof(
    { arbitrary: mutatedJson(actions).map(post("/v1/actions")), weight: 6 },
    {
      arbitrary: mutatedJson([{ actions: actions.slice(0, 3) }]).map(post("/v1/actions")),
      weight: 2,
    },
    { arbitrary: mutatedJson(grants).map(post("/v1/grants")), weight: 2 },
    {
      arbitrary: mutatedText([alice.text]).map((text) =>
        post("/v1/grants")(JSON.stringify({ text, signature: alice.signature })),
      ),
      weight: 2,
    },
    { arbitrary: mutatedJson(revocations).map(post("/v1/revocations")), weight: 1 },
    { arbitrary: mutatedJson([{ a: bobA, b: bobB }]).map(post("/v1/equivocations")), weight: 1 },
    {
      arbitrary: mutatedJson(requests).map(
        (h) => ({ method: "GET", path: inbox, headers: { "sesame-request": b64(h) } }) as Case,
      ),
      weight: 2,
    },
    {
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            "/v1/feed",
            `/v1/wallets/${alice.grant.wallet}/posts`,
            `/v1/wallets/${alice.grant.wallet}/sessions`,
            `/v1/posts/${actionIdOf((actions[0] as SignedAction).payload)}/thread`,
            `/v1/grants/${aliceId}`,
            "/v1/stream",
          ),
          fc.constantFrom("limit", "before", "after", "cursor", "kind"),
          weird,
        )
        .map(
          ([path, key, value]) =>
            ({
              method: "GET",
              path: `${path}?${key}=${encodeURIComponent(String(JSON.stringify(value) ?? "")).slice(0, 3000)}`,
            }) as Case,
        ),
      weight: 1,
    },
  ) as fc.Arbitrary<unknown>;

  const known = new Set(Object.keys(ERROR_TABLE).map(Number));
  /**
   * What a 2xx means. A batch is answered 200 whatever its items got: it counts as
   * accepted when an item was, else as refused with its first item's code. An inbox read
   * answered 200 must carry a signed request equal (as JSON) to a validly signed original;
   * any other is a read the node should have refused.
   */
  const accepted = (c: Case, text: string): Outcome => {
    if (c.path === inbox) {
      const header = c.headers?.["sesame-request"] ?? "";
      let sent: unknown;
      try {
        sent = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
      } catch {
        sent = undefined;
      }
      return requests.some((r) => isDeepStrictEqual(r, sent))
        ? { kind: "accepted" }
        : { kind: "invalid", detail: `inbox read with a changed request: ${header.slice(0, 200)}` };
    }
    if (c.method === "POST" && c.path === "/v1/actions") {
      const body = JSON.parse(text) as {
        results?: { ok: boolean; error?: { code?: unknown } }[];
      };
      if (body.results !== undefined && !body.results.some((r) => r.ok)) {
        const code = body.results[0]?.error?.code;
        if (typeof code === "number" && known.has(code)) return { kind: "refused", code };
        return { kind: "crash", detail: `batch item without an error code: ${text.slice(0, 200)}` };
      }
    }
    return { kind: "accepted" };
  };
  return {
    name: "http",
    arbitrary,
    async check(input): Promise<Outcome> {
      const c = input as Case;
      const controller = new AbortController();
      const res = await fetch(`${url}${c.path}`, {
        method: c.method,
        headers: {
          ...(c.body === undefined ? {} : { "content-type": "application/json" }),
          ...c.headers,
        },
        body: c.body ?? null,
        signal: controller.signal,
      });
      if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
        controller.abort(); // a live stream that opened: nothing to read here
        return { kind: "accepted" };
      }
      const text = await res.text();
      if (res.status >= 500) return { kind: "5xx", detail: `${res.status} ${text}` };
      if (res.status < 300) return accepted(c, text);
      let code: unknown;
      try {
        code = (JSON.parse(text) as { code?: unknown }).code;
      } catch {
        // not JSON: reported below
      }
      if (typeof code === "number" && known.has(code)) return { kind: "refused", code };
      return {
        kind: "crash",
        detail: `${res.status} without an error code: ${text.slice(0, 200)}`,
      };
    },
    async finish() {
      const db = node.ctx.storage.db;
      let invalid = 0;
      const storedGrants = await db.selectFrom("grants").selectAll().execute();
      const byId = new Map<string, ReturnType<typeof restoreVerifiedGrant>>();
      for (const g of storedGrants) {
        try {
          const v = await verifyGrant(
            { text: g.text, signature: g.signature as Signature },
            TEST_CONTEXT,
            backend,
          );
          if (!grants.some((o) => o.text === g.text && o.signature === g.signature)) invalid++;
          byId.set(v.id, v);
        } catch {
          invalid++;
        }
      }
      const storedActions = await db.selectFrom("actions").selectAll().execute();
      for (const a of storedActions) {
        const grant = byId.get(a.grant_id);
        try {
          if (grant === undefined) throw new Error("orphan action");
          const v = await verifyAction(
            { payload: JSON.parse(a.payload), signature: a.signature },
            grant,
            backend,
          );
          if (v.id !== a.id || !signedIds.has(v.id)) invalid++;
        } catch {
          invalid++;
        }
      }
      const storedRevocations = await db.selectFrom("revocations").selectAll().execute();
      for (const r of storedRevocations) {
        try {
          await verifyRevocation(
            { text: r.text, signature: r.signature as Signature },
            TEST_CONTEXT,
            backend,
          );
          if (!revocations.some((o) => o.text === r.text)) invalid++;
        } catch {
          invalid++;
        }
      }
      const storedProofs = await db.selectFrom("equivocations").selectAll().execute();
      for (const e of storedProofs) {
        const grant = byId.get(e.grant_id);
        try {
          if (grant === undefined) throw new Error("orphan proof");
          await verifyEquivocation(
            { a: JSON.parse(e.action_a), b: JSON.parse(e.action_b) },
            grant,
            backend,
          );
          if (e.grant_id !== bobId) invalid++;
        } catch {
          invalid++;
        }
      }
      return {
        storedInvalid: invalid,
        stored:
          storedGrants.length +
          storedActions.length +
          storedRevocations.length +
          storedProofs.length,
      };
    },
  };
}
