import { SCOPES, type Scope } from "@sesame/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CounterFloor, raiseCounters, type SessionRecord } from "../src/index.js";

const counter = fc.integer({ min: 1, max: 1_000_000 });
const ords = fc.dictionary(fc.constantFrom(...SCOPES), counter) as fc.Arbitrary<
  Partial<Record<Scope, number>>
>;

function record(nextSeq: number, nextOrd: Partial<Record<Scope, number>>): SessionRecord {
  return {
    keyId: "k",
    grantId: "g" as SessionRecord["grantId"],
    wallet: "w",
    text: "t",
    signature: "s",
    transaction: null,
    expirationTime: 0,
    nextSeq,
    nextOrd,
    outbox: [],
  };
}

describe("raiseCounters (counters after a restore)", () => {
  it("never lowers a counter, and lifts every one above what the node accepted", () => {
    fc.assert(
      fc.property(
        counter,
        ords,
        fc.integer({ min: 0, max: 1_000_000 }),
        ords,
        (seq, ord, maxSeq, maxOrd) => {
          const floor: CounterFloor = { maxSeq, maxOrd };
          const before = record(seq, ord);
          const after = raiseCounters(before, floor);
          expect(after.nextSeq).toBe(Math.max(seq, maxSeq + 1));
          for (const scope of SCOPES) {
            const was = ord[scope] ?? 1;
            const now = after.nextOrd[scope] ?? 1;
            expect(now).toBeGreaterThanOrEqual(was);
            expect(now).toBeGreaterThan(maxOrd[scope] ?? 0);
          }
          // Nothing to lift: the very same record (no write needed).
          if (seq > maxSeq && SCOPES.every((s) => (ord[s] ?? 1) > (maxOrd[s] ?? 0))) {
            expect(after).toBe(before);
          }
        },
      ),
    );
  });
});
