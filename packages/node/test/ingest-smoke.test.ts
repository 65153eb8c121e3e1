import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { describe, expect, it } from "vitest";
import { makeGrant, signAction, T0, TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import { GrantCache, Ingestor, registerGrant } from "../src/index.js";
import { ENGINES, freshStorage } from "./helpers.js";

describe.each(ENGINES)("ingest on %s", (engine) => {
  it("stores a grant and accepts exactly the cap of 200 concurrent posts", async () => {
    const { storage, cleanup } = await freshStorage(engine);
    try {
      const backend = nodeEd25519();
      const cache = new GrantCache(storage.db);
      const f = makeGrant("alice", "alice-s1", {
        limits: { post: { total: 50, perHour: null } },
        scopes: ["post"],
        tipBudget: null,
      });
      const now = T0 + 1000;
      const reg = await registerGrant(
        storage.db,
        cache,
        { text: f.text, signature: f.signature },
        TEST_CONTEXT,
        backend,
        now,
      );
      const ingest = new Ingestor(storage.db, cache, backend, { clock: () => now });
      const actions = Array.from({ length: 200 }, (_, i) =>
        signAction(f.session, {
          v: 1,
          kind: "post",
          grant: reg.id,
          seq: i + 1,
          ord: i + 1,
          ts: T0 + 500,
          body: { text: `p${i}`, links: [], mentions: [] },
        }),
      );
      const results = (await Promise.all(actions.map((a) => ingest.submit([a])))).flat();
      expect(results.filter((r) => r.ok).length).toBe(50);
      expect(results.filter((r) => !r.ok && r.error.code === 4002).length).toBe(150);
      const again = await ingest.submit([actions[0]]);
      expect(again[0]).toMatchObject({ ok: true, duplicate: true });
      const count = await storage.db
        .selectFrom("actions")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(50);
    } finally {
      await cleanup();
    }
  });
});
